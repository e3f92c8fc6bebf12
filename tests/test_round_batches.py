"""A morning round is queued in batches (many cards per transaction), and still each
reminder goes out once: a card goes with all of its steps or not at all, whichever
replica gets there first, on SQLite and on PostgreSQL (skipped, with the reason, when no
server answers)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select

from storage import db
from storage.models import Marker, OutboundMessage
from storage.outbox import enqueue_many, outbox_row
from storage.reminders import claim_cards, claim_markers
from tests.conftest import NOW


def card(uuid: str, to: str) -> dict:
    return outbox_row(
        uuid=uuid,
        now=NOW,
        kind="send",
        body={"schema": "2.0", "body": {"elements": []}},
        purpose="reminder",
        receive_id_type="open_id",
        receive_id=to,
    )


async def queue_batch(sessions, cards: dict[str, list[str]]) -> set[str]:
    """What send_round does with one batch: claim the markers, queue the cards it won."""
    async with sessions() as session:
        won = await claim_cards(session, list(cards.items()), NOW)
        await enqueue_many(session, [card(u, f"ou_{u}") for u in sorted(won)])
        await session.commit()
    return won


async def stored(sessions) -> tuple[dict[str, str | None], list[str]]:
    async with sessions() as session:
        markers = {m.key: m.outbox_uuid for m in (await session.exec(select(Marker))).all()}
        uuids = sorted((await session.exec(select(OutboundMessage.uuid))).all())
    return markers, uuids


async def test_a_card_of_which_another_pass_sent_a_step_is_not_queued_again(db_url):
    engine = db.make_engine(db_url)
    sessions = db.make_session_factory(engine)
    async with sessions() as session:  # another replica already queued step k2
        assert await claim_markers(session, ["k2"], NOW, outbox_uuid="other")
        await session.commit()
    try:
        won = await queue_batch(sessions, {"u1": ["k1", "k2"], "u2": ["k3"], "u3": ["k4", "k5"]})
        markers, uuids = await stored(sessions)
    finally:
        await engine.dispose()
    assert won == {"u2", "u3"}
    # u1 left nothing behind: its step k1 was not marked as sent by a card that never went
    assert markers == {"k2": "other", "k3": "u2", "k4": "u3", "k5": "u3"}
    assert uuids == ["u2", "u3"]


async def test_a_step_whose_card_was_lost_is_queued_again_in_the_next_batch(db_url):
    engine = db.make_engine(db_url)
    sessions = db.make_session_factory(engine)
    try:
        assert await queue_batch(sessions, {"u1": ["k1"]}) == {"u1"}
        async with sessions() as session:  # the card expired undelivered
            row = (await session.exec(select(OutboundMessage))).one()
            row.status, row.expires_at = "expired", NOW - timedelta(minutes=1)
            session.add(row)
            await session.commit()
        assert await queue_batch(sessions, {"u1b": ["k1"]}) == {"u1b"}
        markers, _ = await stored(sessions)
    finally:
        await engine.dispose()
    assert markers == {"k1": "u1b"}


async def test_replicas_queueing_the_same_round_at_once_send_each_step_once(pg_url):
    """Three replicas, each with its own engine, plan overlapping batches (grouped
    differently, as replicas that read the team a moment apart would) at the same time."""
    engine = db.make_engine(pg_url)
    await db.upgrade(engine)
    await engine.dispose()
    people = [f"p{i:03d}" for i in range(60)]

    def plan(replica: int) -> dict[str, list[str]]:
        cards: dict[str, list[str]] = {}
        for i, who in enumerate(people):
            keys = [f"rem:{i}:{who}:today"]
            if (i + replica) % 3 == 0 and i + 1 < len(people):
                keys.append(f"rem:{i + 1}:{people[i + 1]}:today")  # a step of someone else
            cards[f"r{replica}-{who}"] = keys
        return cards

    engines = [db.make_engine(pg_url) for _ in range(3)]
    try:
        plans = [plan(r) for r in range(3)]
        wins = await asyncio.gather(
            *(
                queue_batch(db.make_session_factory(e), p)
                for e, p in zip(engines, plans, strict=True)
            )
        )
        markers, uuids = await stored(db.make_session_factory(engines[0]))
    finally:
        for e in engines:
            await e.dispose()
    every_key = {k for p in plans for keys in p.values() for k in keys}
    assert set(markers) <= every_key
    queued = {u: keys for p in plans for u, keys in p.items() if u in set().union(*wins)}
    assert sorted(queued) == uuids
    # no step in two queued cards, and a queued card carries every one of its steps
    steps = [k for keys in queued.values() for k in keys]
    assert len(steps) == len(set(steps))
    assert all(markers.get(k) == u for u, keys in queued.items() for k in keys)
    # and nothing marked as sent that no queued card carries
    assert set(markers) == set(steps)


async def test_the_ticks_due_now_read_gives_what_the_statement_gives(db_url):
    """On SQLite the tick reads due tasks on the driver in one call: the same rows, with
    the same types, as the SQLAlchemy statement it stands for."""
    from storage.models import Task
    from storage.reminders import due_now_query, tasks_due_now

    engine = db.make_engine(db_url)
    sessions = db.make_session_factory(engine)
    base = dict(period_key="p", created_at=NOW, updated_at=NOW)
    tasks = [
        Task(duty_key="a", assignee_open_id="ou_1", due_at=NOW, **base),  # new: look now
        Task(
            duty_key="b",
            assignee_open_id="ou_2",
            due_at=NOW + timedelta(days=1, microseconds=7),
            status="rejected",
            activity_id=3,
            snoozed_until=NOW + timedelta(hours=20),
            subject="周报 <b>",
            next_action_at=NOW - timedelta(seconds=1),
            **base,
        ),
        Task(duty_key="c", assignee_open_id="ou_3", due_at=NOW, next_action_at=NOW, **base),
        Task(  # not yet
            duty_key="d",
            assignee_open_id="ou_4",
            due_at=NOW,
            next_action_at=NOW + timedelta(minutes=1),
            **base,
        ),
        Task(duty_key="e", assignee_open_id="ou_5", due_at=NOW, status="submitted", **base),
    ]
    try:
        async with sessions() as session:
            session.add_all(tasks)
            await session.commit()
        async with sessions() as session:
            fast = sorted(tuple(r) for r in await tasks_due_now(session, NOW))
            conn = await session.connection()
            slow = sorted(tuple(r) for r in (await conn.execute(due_now_query(NOW))).all())
            by_name = {r.duty_key: r for r in await tasks_due_now(session, NOW)}
    finally:
        await engine.dispose()
    assert fast == slow
    assert sorted(by_name) == ["a", "b", "c"]
    assert by_name["b"].snoozed_until == NOW + timedelta(hours=20)
    assert by_name["b"].due_at.tzinfo is not None and by_name["b"].subject == "周报 <b>"
