"""Nothing fails silently: every message the outbox gives up on (expired, refused as
malformed, receiver gone) is counted for /metrics, logged at error level, and the admins
get one card per incident (not one per message: an outage can expire hundreds).

The admins told are those of the department the message belongs to (its receiver's, its
task's: storage.incidents), each department with its own incident; a message whose
department is not known (or the default one) goes to every admin, as does a department
without an active admin."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.clock import Clock
from bot.domain.departments import DEFAULT_DEPARTMENT
from cards.undelivered import LostGroup, build_undelivered_card
from storage.incidents import Lost, departments_of
from storage.members import list_admins
from storage.models import OutboundMessage
from storage.outbox import enqueue, open_incident

log = logging.getLogger("dutybot.outbox")

INCIDENT_QUIET = timedelta(hours=6)  # an incident ends after this long without a loss
INCIDENT_KEY = "incident:undelivered"


@dataclass(frozen=True)
class Undelivered:
    uuid: str
    purpose: str
    lane: str
    reason: str  # expired | payload | permanent
    error: str
    receiver: Lost | None = None  # what tells its department

    @classmethod
    def of(cls, row: OutboundMessage, reason: str, error: str) -> Undelivered:
        department = getattr(row, "department", None)  # a row read without it: the receiver's
        receiver = Lost(row.uuid, department, row.receive_id_type, row.receive_id, row.target_uuid)
        return cls(row.uuid, row.purpose, row.lane, reason, error, receiver)


class UndeliveredReporter:
    def __init__(self, sessions: async_sessionmaker, clock: Clock) -> None:
        self.sessions, self.clock = sessions, clock
        self.counts: Counter[tuple[str, str]] = Counter()  # (purpose, reason) -> messages

    async def report(self, lost: list[Undelivered]) -> None:
        groups = Counter((u.purpose, u.reason) for u in lost)
        self.counts.update(groups)
        for (purpose, reason), n in sorted(groups.items()):
            sample = [u for u in lost if (u.purpose, u.reason) == (purpose, reason)][:3]
            log.error(
                "undelivered: %d %s message(s), %s; e.g. %s",
                n,
                purpose,
                reason,
                "; ".join(f"{u.uuid} to {u.lane}: {u.error[:200]}" for u in sample),
            )
        # An alert that cannot be delivered is counted and logged, never alerted about.
        alertable = [u for u in lost if u.purpose != "alert"]
        if alertable:
            try:
                await self._alert(alertable)
            except Exception:  # the alert must never break delivery of everything else
                log.exception("could not queue the admins' undelivered alert")

    async def _alert(self, lost: list[Undelivered]) -> None:
        now = self.clock.now()
        told_nobody = False
        async with self.sessions() as session:
            found = await departments_of(session, [u.receiver or Lost(u.uuid) for u in lost])
            by_key: dict[str, tuple[str | None, list[Undelivered]]] = {}
            for u in lost:
                dept = found.get(u.uuid)
                dept = None if dept == DEFAULT_DEPARTMENT else dept
                key = INCIDENT_KEY if dept is None else f"{INCIDENT_KEY}:{dept}"
                by_key.setdefault(key, (dept, []))[1].append(u)
            for key in sorted(by_key):  # one order for every replica (the markers' locks)
                dept, items = by_key[key]
                if not await open_incident(session, key, now, INCIDENT_QUIET):
                    continue  # the running incident's last-seen time moved on
                admins = (await list_admins(session, dept) if dept else []) or (
                    await list_admins(session)
                )
                told_nobody = told_nobody or not admins
                await self._queue_card(session, key, now, items, admins)
            await session.commit()
        if told_nobody:
            log.error("undelivered messages and no admin on the team to tell")

    async def _queue_card(self, session, key: str, now, lost: list[Undelivered], admins) -> None:
        groups = Counter((u.purpose, u.reason) for u in lost)
        body = build_undelivered_card(
            [LostGroup(p, r, n) for (p, r), n in sorted(groups.items())], lost[0].error
        )
        for admin in admins:
            digest = hashlib.sha256(f"{key}|{now.isoformat()}|{admin.open_id}".encode()).hexdigest()
            await enqueue(
                session,
                uuid="al" + digest[:40],
                now=now,
                kind="send",
                purpose="alert",
                body=body,
                receive_id_type="open_id",
                receive_id=admin.open_id,
            )
