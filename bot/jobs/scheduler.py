"""The scheduler: one pass ("tick") a minute, driven by the injected clock.

A tick, at the instant `now`:

1. keeps the current and next period's periodic tasks (idempotent inserts);
2. tells the admins once if a year around now has no official holiday data;
3. plans this round of reminders and escalations and queues one card per person;
4. queues the weekly / monthly digests whose moment has come.

Every side effect is keyed so that it happens once whatever runs it: tasks are unique per
(duty, assignee, period), reminders and digests insert a `Marker` in the same transaction
as their outbox row, outbox rows have unique Feishu uuids and are claimed with
`FOR UPDATE SKIP LOCKED` (PostgreSQL). So re-running a tick, restarting, or running several
replicas (`dutybot run` on each, or `dutybot tick` from cron on several hosts) never doubles
a message. Sending is the outbox worker's job (rate limits and retries live there)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.dispatch.context import Services
from bot.jobs.digests import DigestStats, send_digests
from bot.jobs.reminders import ReminderStats, send_round
from bot.services.calendar_notices import notify_unconfirmed_years
from storage.members import load_roster
from storage.tasks import ensure_all_periodic_tasks

log = logging.getLogger("dutybot.scheduler")

CALENDAR_LOOKAHEAD = timedelta(days=60)  # next-period tasks reach this far


@dataclass
class TickReport:
    at: datetime
    periodic_created: int = 0
    calendar_years: list[int] = field(default_factory=list)
    reminders: ReminderStats = field(default_factory=ReminderStats)
    digests: DigestStats = field(default_factory=DigestStats)
    errors: list[str] = field(default_factory=list)

    def render(self, tz) -> str:
        local = self.at.astimezone(tz)
        lines = [f"tick at {local.isoformat()}"]
        lines.append(f"  periodic tasks created: {self.periodic_created}")
        if self.calendar_years:
            years = ", ".join(map(str, self.calendar_years))
            lines.append(f"  calendar: admins asked to confirm {years}")
        if self.reminders.outside_hours:
            lines.append(
                "  reminders: outside working hours (they wait for the next working morning)"
            )
        else:
            lines.append(
                f"  reminders: {self.reminders.cards} card(s) with {self.reminders.items} item(s)"
            )
        lines.append(
            f"  digests: {self.digests.sent} sent"
            + (f", {self.digests.empty} empty (not sent)" if self.digests.empty else "")
        )
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


async def run_tick(bot, now: datetime) -> TickReport:
    """One scheduler pass at `now` (aware) for `bot` (anything with `.sessions` and
    `.services`: a BotApp). Each step commits on its own; a failing step is logged and
    reported, and the others still run. Queues messages; the outbox sends them."""
    sessions: async_sessionmaker = bot.sessions
    services: Services = bot.services
    report = TickReport(now)
    tz = services.tz
    refresh = getattr(bot, "refresh_departments", None)
    if refresh is not None:
        try:
            await refresh()
        except Exception as exc:  # noqa: BLE001 - the departments as loaded still run
            log.exception("reloading the departments failed at %s", now.isoformat())
            report.errors.append(f"departments: {type(exc).__name__}: {exc}")

    async def periodic() -> None:
        async with sessions() as session:
            report.periodic_created = await ensure_all_periodic_tasks(
                session, services.policies, services.calendar, tz, now
            )
            await session.commit()

    async def calendar() -> None:
        today = now.astimezone(tz).date()
        years = {today.year, (today + CALENDAR_LOOKAHEAD).year}
        async with sessions() as session:
            roster = await load_roster(session, services.policy)
            report.calendar_years = await notify_unconfirmed_years(
                session, services.calendar, roster, years, now
            )
            await session.commit()

    async def reminders() -> None:
        report.reminders = await send_round(sessions, services, now)

    async def digests() -> None:
        report.digests = await send_digests(sessions, services, now)

    def extra(fn):  # steps the composition root adds (e.g. chasing pending approvals)
        return lambda: fn(sessions, services, now)

    for name, step in (
        ("periodic tasks", periodic),
        ("calendar", calendar),
        ("reminders", reminders),
        ("digests", digests),
        *((name, extra(fn)) for name, fn in getattr(bot, "tick_steps", ())),
    ):
        try:
            await step()
        except Exception as exc:  # noqa: BLE001 - one failing step must not stop the others
            log.exception("scheduler step %s failed at %s", name, now.isoformat())
            report.errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return report


class Scheduler:
    """Runs `run_tick` every `interval` seconds (aligned to the minute) in the bot's loop."""

    def __init__(self, bot, interval: float = 60.0) -> None:
        self.bot = bot
        self.interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.last: TickReport | None = None

    async def tick(self, now: datetime | None = None) -> TickReport:
        report = await run_tick(self.bot, now or self.bot.clock.now())
        self.last = report
        self.bot.wake_outbox()
        return report

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            wait = self.interval - (time.time() % self.interval)  # the next minute boundary
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Let the tick in flight finish (up to `timeout`), then stop."""
        self._stop.set()
        if self._task:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                self._task.cancel()
