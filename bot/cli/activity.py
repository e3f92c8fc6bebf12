"""`dutybot activity add | list | move | cancel`: marketing activities and their task chains."""

from __future__ import annotations

import argparse

from bot.cli import common
from bot.cli.tasks import print_tasks, task_row


def register(sub: common.SubParsers) -> None:
    act = sub.add_parser("activity", help="marketing activities and their task chains")
    asub = act.add_subparsers(dest="activity_command", required=True)
    add = asub.add_parser("add", help="create an activity and its tasks")
    add.add_argument("--title", required=True)
    add.add_argument("--start", required=True, type=common.parse_date)
    add.add_argument("--end", required=True, type=common.parse_date)
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
    move.add_argument("--start", required=True, type=common.parse_date)
    move.add_argument("--end", required=True, type=common.parse_date)
    move.set_defaults(fn=cmd_activity_move)
    cancel = asub.add_parser("cancel", help="cancel an activity and its open tasks")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(fn=cmd_activity_cancel)


def cmd_activity_add(args: argparse.Namespace) -> int:
    from bot.domain.activities import ActivityError, ActivityInput
    from bot.services.activities import create_activity
    from storage import db
    from storage.members import list_admins

    settings, services = common.context()
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
        now = common.now()
        async with db.make_session_factory(engine)() as session:
            await common.with_departments(session, services)
            admins = await list_admins(session)
            change = await create_activity(
                session,
                services,
                now,
                data,
                created_by=admins[0].open_id if admins else None,
                announce=not args.quiet,
            )
            names = await common.member_names(session)
            await session.commit()
            return change, names

    try:
        change, names = common.run_db(settings, run)
    except ActivityError as exc:
        raise common.fail("cannot create the activity:", exc.errors) from None
    a = change.activity
    print(
        f"activity {a.id} created: {a.title}  {a.start_date} – {a.end_date} ({a.mode}), "
        f"owner {names.get(a.owner_open_id, a.owner_open_id)} ({a.owner_open_id})"
    )
    print(f"{len(change.tasks)} task(s):")
    titles = {a.id: a.title}
    print_tasks([task_row(t, services.policies, services.tz, names, titles) for t in change.tasks])
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


def cmd_activity_list(args: argparse.Namespace) -> int:
    from storage import plain

    settings, _, _ = common.checked()

    async def run(reader):
        names = await common.reader_names(reader)
        activities = await plain.list_activities(reader, include_cancelled=args.all)
        states = await plain.activity_task_states(reader, [a.id for a in activities])
        return [(a, states[a.id], names) for a in activities]

    rows = common.run_reads(settings, run)
    if not rows:
        print("no activities")
    for a, states, names in rows:
        open_n = sum(state in ("open", "submitted", "rejected") for state in states)
        print(
            f"#{a.id:<4} {a.start_date} – {a.end_date}  {a.status:<9} {a.title}  "
            f"owner {names.get(a.owner_open_id, a.owner_open_id)}  tasks {len(states)} ({open_n} open)"
        )
    return 0


def _change(args: argparse.Namespace, what: str) -> int:
    from bot.domain.activities import ActivityError
    from bot.services.activities import cancel_activity, move_activity
    from storage import db

    settings, services = common.context()

    async def run(engine):
        now = common.now()
        async with db.make_session_factory(engine)() as session:
            await common.with_departments(session, services)
            if what == "move":
                change = await move_activity(
                    session, services, now, args.id, args.start, args.end, actor=None
                )
            else:
                change = await cancel_activity(session, services, now, args.id, actor=None)
            names = await common.member_names(session)
            await session.commit()
            return change, names

    try:
        change, names = common.run_db(settings, run)
    except ActivityError as exc:
        raise common.fail("\n".join(f"cannot {what}: {e}" for e in exc.errors)) from None
    a = change.activity
    titles = {a.id: a.title}
    if what == "move":
        print(
            f"activity {a.id} moved to {a.start_date} – {a.end_date}; {len(change.tasks)} open task(s) re-planned:"
        )
        for t in change.tasks:
            old = change.previous_due[t.id].astimezone(services.tz).isoformat()
            row = task_row(t, services.policies, services.tz, names, titles)
            print(f"  #{t.id:<6} {t.duty_key:<28} {row['assignee_name']}: {old} → {row['due']}")
    else:
        print(f"activity {a.id} cancelled; {len(change.tasks)} open task(s) cancelled")
    print(f"{change.queued} message(s) queued")
    return 0


def cmd_activity_move(args: argparse.Namespace) -> int:
    return _change(args, "move")


def cmd_activity_cancel(args: argparse.Namespace) -> int:
    return _change(args, "cancel")
