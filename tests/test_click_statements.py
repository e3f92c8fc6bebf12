"""How many SQL statements a click costs: a regression guard for the click path, whose
latency under load is mostly its statements (each one several hand-offs to the database
driver's thread). Counted with a SQLAlchemy event listener on the bot's engine, from
posting the callback to its answer; the workers are off here, so only the click's own
statements count (its inbox row goes through the ingest writer, not the engine)."""

from __future__ import annotations

import contextlib

from sqlalchemy import event

from storage import driver_reads, sqlite_driver
from storage.models import Report
from tests import feishu_events as fe
from tests.test_reports import apply, button_value, cards_to, last_card, one

WEEKLY_FORM = {
    "completion_rate": "85",
    "risks": "物料延迟",
    "support_needed": "",
    "blockers_resolved": "",
}


@contextlib.contextmanager
def counted(engine):
    """Statements through SQLAlchemy, writes queued for the connection's next hop
    (storage.driver_writes) and driver calls (storage.driver_reads): every statement."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    later, driver = sqlite_driver.ran_later, driver_reads.calls
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        seen.extend(["(a queued write)"] * (sqlite_driver.ran_later - later))
        seen.extend(["(a driver call)"] * (driver_reads.calls - driver))


async def click(harness, operator: str, value: dict, **kw) -> tuple[dict, list[str]]:
    with counted(harness.bot.engine) as seen:
        resp = await harness.post(fe.card_action(operator, value, harness.clock.now(), **kw))
        assert resp.status == 200
        answer = await resp.json()
    await harness.settle()
    return answer, seen


async def test_statements_per_submit_and_decision(harness):
    await harness.say("提交周报", sender="ou_manager")
    form_msg = last_card(harness, "ou_manager")
    answer, submit = await click(
        harness,
        "ou_manager",
        button_value(form_msg.card, "report.submit"),
        message_id=form_msg.message_id,
        form_value=WEEKLY_FORM,
        name="report_submit",
    )
    assert answer["toast"]["type"] == "success"
    apply(harness, form_msg.message_id, answer)
    (approval,) = cards_to(harness, "ou_director")
    answer, approve = await click(
        harness,
        "ou_director",
        button_value(approval.card, "report.approve"),
        message_id=approval.message_id,
        form_value={"comment": ""},
        name="report_approve",
    )
    assert answer["toast"]["type"] == "success"
    assert (await one(harness, Report)).status == "approved"
    assert len(submit) <= SUBMIT_MAX, "\n".join(submit)
    assert len(approve) <= APPROVE_MAX, "\n".join(approve)


SUBMIT_MAX = 13  # a form submit: 23.5 on 2026-12-03 morning, then 16.5, then 13
APPROVE_MAX = 11  # an approve: 23.9, then 21.0, then 11 (reads first, writes at the end)
