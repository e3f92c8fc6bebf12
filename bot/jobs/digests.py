"""Weekly and monthly digests for the team chats.

When: the weekly digest at `DUTYBOT_WEEKLY_DIGEST` (default Friday 17:00 local; on a day off
it moves to the previous working day of that week, and a week with no working day has no
digest); the monthly digest at `DUTYBOT_MONTHLY_DIGEST` (default 10:00) on the first working
day of a month, about the previous month (``bot.domain.digests`` has the arithmetic). A tick
at or after that moment sends it, once per (chat, period): a `digest:<kind>:<period>:<chat>`
marker is written with the outbox row. An empty digest is not sent."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.dispatch.context import Services
from bot.domain.digests import Period, due_periods
from bot.services.digests import LANG, build_digest
from cards.digest import build_digest_card
from storage.members import list_team_chats, load_roster
from storage.outbox import enqueue
from storage.reminders import claim_marker, existing_markers

log = logging.getLogger("dutybot.digests")


@dataclass
class DigestStats:
    sent: int = 0
    empty: int = 0
    periods: list[str] = field(default_factory=list)


def marker(period: Period, chat_id: str) -> str:
    return f"digest:{period.kind}:{period.key}:{chat_id}"


async def send_digests(
    sessions: async_sessionmaker, services: Services, now: datetime
) -> DigestStats:
    stats = DigestStats()
    local_now = now.astimezone(services.tz)
    settings = services.settings
    periods = due_periods(
        settings.weekly_digest, settings.monthly_digest, services.calendar, local_now
    )
    if not periods:
        return stats
    for view in services.departments():
        await _send_department_digests(sessions, view, now, periods, stats)
    return stats


async def _send_department_digests(
    sessions: async_sessionmaker,
    services: Services,
    now: datetime,
    periods: list[Period],
    stats: DigestStats,
) -> None:
    """One department's digests to its team chats (everyone's without departments)."""
    async with sessions() as session:
        chats = await list_team_chats(session, services.department)
        if not chats:
            return
        keys = [marker(p, c.chat_id) for p in periods for c in chats]
        done = await existing_markers(session, keys, now)
    for period in periods:
        todo = [c for c in chats if marker(period, c.chat_id) not in done]
        if not todo:
            continue
        async with sessions() as session:
            roster = await load_roster(session, services.policy, services.department)
            data = await build_digest(session, services, roster, now, period)
        body = None if data.view.is_empty else build_digest_card(data.view, LANG)
        for chat in todo:
            key = marker(period, chat.chat_id)
            # A digest planned again after its message was lost gets a new uuid.
            uuid = "dg" + hashlib.sha256(f"{key}|{now.isoformat()}".encode()).hexdigest()[:40]
            async with sessions() as session:
                if not await claim_marker(session, key, now, uuid if body else None):
                    await session.rollback()
                    continue
                if body is not None:
                    await enqueue(
                        session,
                        uuid=uuid,
                        now=now,
                        kind="send",
                        purpose="digest",
                        body=body,
                        receive_id_type="chat_id",
                        receive_id=chat.chat_id,
                    )
                await session.commit()
            if body is None:
                stats.empty += 1
                log.info(
                    "%s digest %s for %s: nothing to report", period.kind, period.key, chat.chat_id
                )
            else:
                stats.sent += 1
                stats.periods.append(f"{period.kind}:{period.key}")
