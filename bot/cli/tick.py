"""`dutybot tick [--now …]`: one scheduler pass, then exit (cron, tests).

lark-oapi is imported only when Feishu credentials are set and there are messages to send."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli import common


def register(sub: common.SubParsers) -> None:
    tick = sub.add_parser(
        "tick",
        help="run one scheduler pass (periodic tasks, reminders, escalations, digests) and exit",
    )
    tick.add_argument(
        "--now",
        type=common.parse_instant,
        help="the instant to run at, ISO 8601 (default: the real time); "
        "without an offset it is the team's local time",
    )
    tick.add_argument(
        "--start-at",
        type=float,
        metavar="UNIX_TIME",
        help="after start-up, wait until this wall-clock time before the pass "
        "(lines up replicas, e.g. in tests)",
    )
    tick.add_argument(
        "--deliver-for",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="after the pass, keep delivering (retries, messages left by a killed run) "
        "until nothing waits or this many seconds have passed (default 30; 0: one pass)",
    )
    tick.set_defaults(fn=cmd_tick)


def cmd_tick(args: argparse.Namespace) -> int:
    settings, _ = common.context()
    common.setup_logging(settings.log_level)
    now = args.now or common.now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=settings.tz)

    async def run() -> tuple[str, int, bool]:
        from bot.app import build_app
        from bot.clock import RunningClock
        from bot.jobs.scheduler import run_tick

        # Runs from `now` at real speed: retries the pass schedules come due while it runs.
        bot = build_app(settings, clock=RunningClock(now))
        bot.connect = False  # only when there is something to send (below)
        async with bot:
            if args.start_at:
                import time

                await asyncio.sleep(max(0.0, args.start_at - time.time()))
            report = await run_tick(bot, now)
            sent = 0
            if bot.outbox is not None:
                from storage.outbox import depth

                if bot.task_mirror is not None:  # DUTYBOT_FEISHU_TASKS=on: queue its calls
                    await bot.task_mirror.sync()
                async with bot.sessions() as session:
                    waiting, _ = await depth(session)
                if waiting:  # nothing to send: lark-oapi is never imported (seconds, ~170 MB)
                    await bot.connect_feishu()
                    sent = await bot.outbox.deliver_for(max(0.0, args.deliver_for))
            return report.render(settings.tz), sent, bool(report.errors)

    from storage.db import DatabaseBehind

    try:
        text, sent, failed = asyncio.run(run())
    except DatabaseBehind as exc:
        raise common.fail(f"cannot tick: {exc}") from None
    print(text)
    if settings.has_credentials:
        print(f"  outbox: {sent} message(s) handled")
    else:
        print("  outbox: no Feishu credentials; messages wait in the outbox")
    return 1 if failed else 0
