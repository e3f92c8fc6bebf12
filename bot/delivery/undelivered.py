"""Nothing fails silently: every message the outbox gives up on (expired, refused as
malformed, receiver gone) is counted for /metrics, logged at error level, and the admins
get one card per incident (not one per message: an outage can expire hundreds)."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.clock import Clock
from cards.undelivered import LostGroup, build_undelivered_card
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

    @classmethod
    def of(cls, row: OutboundMessage, reason: str, error: str) -> Undelivered:
        return cls(row.uuid, row.purpose, row.lane, reason, error)


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
        async with self.sessions() as session:
            if not await open_incident(session, INCIDENT_KEY, now, INCIDENT_QUIET):
                await session.commit()  # the running incident's last-seen time moved on
                return
            groups = Counter((u.purpose, u.reason) for u in lost)
            body = build_undelivered_card(
                [LostGroup(p, r, n) for (p, r), n in sorted(groups.items())], lost[0].error
            )
            admins = await list_admins(session)
            for admin in admins:
                digest = hashlib.sha256(
                    f"{INCIDENT_KEY}|{now.isoformat()}|{admin.open_id}".encode()
                ).hexdigest()
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
            await session.commit()
        if not admins:
            log.error("undelivered messages and no admin on the team to tell")
