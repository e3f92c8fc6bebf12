"""CLI commands for scheduling: tick, activities, tasks, leave. (Issue #4.)

None of them imports lark-oapi unless Feishu credentials are set and `tick` has messages
to send."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import date, datetime


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 instant (e.g. 2026-12-04T17:30:00+08:00)"
        ) from None


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `dutybot` parser."""
    tick = sub.add_parser(
        "tick",
        help="run one scheduler pass (periodic tasks, reminders, escalations, digests) and exit",
    )
    tick.add_argument(
        "--now",
        type=_instant,
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
    tick.set_defaults(fn=cmd_tick)

    act = sub.add_parser("activity", help="marketing activities and their task chains")
    asub = act.add_subparsers(dest="activity_command", required=True)
    add = asub.add_parser("add", help="create an activity and its tasks")
    add.add_argument("--title", required=True)
    add.add_argument("--start", required=True, type=_date)
    add.add_argument("--end", required=True, type=_date)
    add.add_argument("--owner", required=True, help="the planner who runs it (open_id)")
    add.add_argument("--budget", type=float)
    add.add_argument("--mode", choices=("offline", "online", "hybrid"), default="offline")
    add.add_argument("--expected", type=int, help="expected attendance")
    add.add_argument("--quiet", action="store_true", help="do not announce the new tasks")
    add.set_defaults(fn=cmd_activity_add)
    ls = asub.add_parser("list", help="list activities")
    ls.add_argument("--all", action="store_true", help="include cancelled ones")
    ls.set_defaults(fn=cmd_activity_list)
    move = asub.add_parser("move", help="new dates; open tasks are re-planned")
    move.add_argument("id", type=int)
    move.add_argument("--start", required=True, type=_date)
    move.add_argument("--end", required=True, type=_date)
    move.set_defaults(fn=cmd_activity_move)
    cancel = asub.add_parser("cancel", help="cancel an activity and its open tasks")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(fn=cmd_activity_cancel)

    tasks = sub.add_parser("tasks", help="tasks").add_subparsers(
        dest="tasks_command", required=True
    )
    tl = tasks.add_parser("list", help="open tasks (open, submitted, rejected), soonest first")
    tl.add_argument("--assignee", help="only this member's (open_id)")
    tl.add_argument("--json", action="store_true", help="one JSON array")
    tl.set_defaults(fn=cmd_tasks_list)

    leave = sub.add_parser("leave", help="members' leave (no reminders; excused in digests)")
    lsub = leave.add_subparsers(dest="leave_command", required=True)
    la = lsub.add_parser("add", help="record leave (inclusive dates)")
    la.add_argument("open_id")
    la.add_argument("start", type=_date)
    la.add_argument("end", type=_date, nargs="?")
    la.set_defaults(fn=cmd_leave_add)
    ll = lsub.add_parser("list", help="current and upcoming leave")
    ll.set_defaults(fn=cmd_leave_list)
    lc = lsub.add_parser("cancel", help="remove a member's current and future leave")
    lc.add_argument("open_id")
    lc.set_defaults(fn=cmd_leave_cancel)


# -- plumbing --------------------------------------------------------------------------


def _context():
    """Settings, policy, calendar and services, or exit 2 with the reason."""
    from bot.cli.main import _load_policy, _settings
    from bot.dispatch.context import Services
    from bot.domain.workcalendar import CalendarError, WorkCalendar

    settings = _settings()
    policy = _load_policy(settings)
    try:
        calendar = WorkCalendar.from_file(settings.calendar_path)
    except CalendarError as exc:
        print(f"The calendar file {settings.calendar_path} has errors:", file=sys.stderr)
        for line in exc.errors:
            print(f"  - {line}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings, Services(settings, policy, calendar)


def _run_db(settings, fn):
    from bot.cli.main import _with_db
    from storage.db import DatabaseBehind

    try:
        return asyncio.run(_with_db(settings, fn))
    except DatabaseBehind as exc:
        print(f"cannot run: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _now():
    from bot.clock import SystemClock

    return SystemClock().now()


def _line(task, services, names: dict[str, str], titles: dict[int, str]) -> dict:
    duty = services.policy.duties.get(task.duty_key)
    return {
        "id": task.id,
        "duty_key": task.duty_key,
        "duty_name": duty.name_zh if duty else task.duty_key,
        "duty_name_en": duty.name_en if duty else task.duty_key,
        "assignee": task.assignee_open_id,
        "assignee_name": names.get(task.assignee_open_id, task.assignee_open_id),
        "activity_id": task.activity_id,
        "activity": titles.get(task.activity_id) if task.activity_id else None,
        "period": task.period_key,
        "due": task.due_at.astimezone(services.tz).isoformat(),
        "status": task.status,
    }


def _print_tasks(rows: list[dict]) -> None:
    for r in rows:
        activity = f"  [{r['activity']}]" if r["activity"] else ""
        print(
            f"  #{r['id']:<6} {r['due']}  {r['status']:<9} {r['duty_key']:<28} "
            f"{r['assignee_name']} ({r['assignee']}){activity}"
        )


# -- tick ------------------------------------------------------------------------------


def cmd_tick(args: argparse.Namespace) -> int:
    from bot.cli.main import _setup_logging

    settings, _ = _context()
    _setup_logging(settings.log_level)
    now = args.now or _now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=settings.tz)

    async def run() -> tuple[str, int, bool]:
        from bot.app import build_app
        from bot.clock import FixedClock
        from bot.jobs.scheduler import run_tick

        async with build_app(settings, clock=FixedClock(now)) as bot:
            if args.start_at:
                import time

                await asyncio.sleep(max(0.0, args.start_at - time.time()))
            report = await run_tick(bot, now)
            sent = await bot.outbox.drain(max_rounds=1000) if bot.outbox is not None else 0
            return report.render(settings.tz), sent, bool(report.errors)

    from storage.db import DatabaseBehind

    try:
        text, sent, failed = asyncio.run(run())
    except DatabaseBehind as exc:
        print(f"cannot tick: {exc}", file=sys.stderr)
        return 2
    print(text)
    if settings.has_credentials:
        print(f"  outbox: {sent} message(s) handled")
    else:
        print("  outbox: no Feishu credentials; messages wait in the outbox")
    return 1 if failed else 0


# -- activities ------------------------------------------------------------------------


def cmd_activity_add(args: argparse.Namespace) -> int:
    from bot.jobs.activities import ActivityError, ActivityInput, create_activity
    from storage import db
    from storage.members import list_admins

    settings, services = _context()
    data = ActivityInput(
        title=args.title,
        start=args.start,
        end=args.end,
        owner_open_id=args.owner,
        budget=args.budget,
        mode=args.mode,
        expected_attendance=args.expected,
    )

    async def run(engine):
        now = _now()
        async with db.make_session_factory(engine)() as session:
            admins = await list_admins(session)
            change = await create_activity(
                session,
                services,
                now,
                data,
                created_by=admins[0].open_id if admins else None,
                announce=not args.quiet,
            )
            names = {m.open_id: m.name for m in (await session.exec(_members())).all()}
            await session.commit()
            return change, names

    try:
        change, names = _run_db(settings, run)
    except ActivityError as exc:
        print("cannot create the activity:", file=sys.stderr)
        for e in exc.errors:
            print(f"  - {e}", file=sys.stderr)
        return 2
    a = change.activity
    print(
        f"activity {a.id} created: {a.title}  {a.start_date} – {a.end_date} ({a.mode}), "
        f"owner {names.get(a.owner_open_id, a.owner_open_id)} ({a.owner_open_id})"
    )
    print(f"{len(change.tasks)} task(s):")
    titles = {a.id: a.title}
    _print_tasks([_line(t, services, names, titles) for t in change.tasks])
    tz = services.tz
    for t in change.tasks:
        if t.id in change.previous_due:
            was = change.previous_due[t.id].astimezone(tz).isoformat()
            print(
                f"  note: #{t.id} {t.duty_key} was due {was} by the policy: due the next working day"
            )
    for w in change.warnings:
        print(f"  warning: {w}")
    print(f"{change.queued} message(s) queued (sent by `dutybot run`, or now by `dutybot tick`)")
    return 0


def _members():
    from sqlmodel import select

    from storage.models import Member

    return select(Member)


def cmd_activity_list(args: argparse.Namespace) -> int:
    from storage import db
    from storage.activities import activity_tasks, list_activities

    settings, _ = _context()

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            names = {m.open_id: m.name for m in (await session.exec(_members())).all()}
            out = []
            for a in await list_activities(session, include_cancelled=args.all):
                tasks = await activity_tasks(session, a.id)
                out.append((a, tasks, names))
            return out

    rows = _run_db(settings, run)
    if not rows:
        print("no activities")
    for a, tasks, names in rows:
        open_n = sum(t.status in ("open", "submitted", "rejected") for t in tasks)
        print(
            f"#{a.id:<4} {a.start_date} – {a.end_date}  {a.status:<9} {a.title}  "
            f"owner {names.get(a.owner_open_id, a.owner_open_id)}  tasks {len(tasks)} ({open_n} open)"
        )
    return 0


def _change(args: argparse.Namespace, what: str) -> int:
    from bot.jobs.activities import ActivityError, cancel_activity, move_activity
    from storage import db

    settings, services = _context()

    async def run(engine):
        now = _now()
        async with db.make_session_factory(engine)() as session:
            if what == "move":
                change = await move_activity(
                    session, services, now, args.id, args.start, args.end, actor=None
                )
            else:
                change = await cancel_activity(session, services, now, args.id, actor=None)
            names = {m.open_id: m.name for m in (await session.exec(_members())).all()}
            await session.commit()
            return change, names

    try:
        change, names = _run_db(settings, run)
    except ActivityError as exc:
        for e in exc.errors:
            print(f"cannot {what}: {e}", file=sys.stderr)
        return 2
    a = change.activity
    titles = {a.id: a.title}
    if what == "move":
        print(
            f"activity {a.id} moved to {a.start_date} – {a.end_date}; {len(change.tasks)} open task(s) re-planned:"
        )
        for t in change.tasks:
            old = change.previous_due[t.id].astimezone(services.tz).isoformat()
            row = _line(t, services, names, titles)
            print(f"  #{t.id:<6} {t.duty_key:<28} {row['assignee_name']}: {old} → {row['due']}")
    else:
        print(f"activity {a.id} cancelled; {len(change.tasks)} open task(s) cancelled")
    print(f"{change.queued} message(s) queued")
    return 0


def cmd_activity_move(args: argparse.Namespace) -> int:
    return _change(args, "move")


def cmd_activity_cancel(args: argparse.Namespace) -> int:
    return _change(args, "cancel")


# -- tasks -----------------------------------------------------------------------------


def cmd_tasks_list(args: argparse.Namespace) -> int:
    from storage import db
    from storage.activities import activity_titles
    from storage.tasks import list_open

    settings, services = _context()

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            tasks = await list_open(session, args.assignee)
            names = {m.open_id: m.name for m in (await session.exec(_members())).all()}
            titles = await activity_titles(session, {t.activity_id for t in tasks if t.activity_id})
            return [_line(t, services, names, titles) for t in tasks]

    rows = _run_db(settings, run)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    print(f"{len(rows)} open task(s)")
    _print_tasks(rows)
    return 0


# -- leave -----------------------------------------------------------------------------


def cmd_leave_add(args: argparse.Namespace) -> int:
    from storage import db
    from storage.leave import add_leave
    from storage.members import get_member

    settings, _ = _context()
    end = args.end or args.start
    if end < args.start:
        print("the end is before the start", file=sys.stderr)
        return 2

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            if await get_member(session, args.open_id) is None:
                return None
            added = await add_leave(session, args.open_id, args.start, end, _now())
            await session.commit()
            return added

    added = _run_db(settings, run)
    if added is None:
        print(f"{args.open_id} is not an active team member", file=sys.stderr)
        return 2
    print(
        f"leave {args.open_id} {args.start} – {end}: {'recorded' if added else 'already recorded'}"
    )
    return 0


def cmd_leave_list(args: argparse.Namespace) -> int:
    from storage import db
    from storage.leave import list_leave

    settings, services = _context()

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            today = _now().astimezone(services.tz).date()
            names = {m.open_id: m.name for m in (await session.exec(_members())).all()}
            return [(lv, names) for lv in await list_leave(session, since=today)]

    rows = _run_db(settings, run)
    if not rows:
        print("no current or upcoming leave")
    for lv, names in rows:
        print(
            f"{lv.start_date} – {lv.end_date}  {names.get(lv.open_id, lv.open_id)} ({lv.open_id})"
        )
    return 0


def cmd_leave_cancel(args: argparse.Namespace) -> int:
    from storage import db
    from storage.leave import remove_leave

    settings, services = _context()

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            today = _now().astimezone(services.tz).date()
            removed = await remove_leave(session, args.open_id, today)
            await session.commit()
            return removed

    print(f"{_run_db(settings, run)} leave span(s) removed for {args.open_id}")
    return 0
