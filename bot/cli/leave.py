"""`dutybot leave add | list | cancel`: members' leave (no reminders; excused in digests)."""

from __future__ import annotations

import argparse

from bot.cli import common


def register(sub: common.SubParsers) -> None:
    leave = sub.add_parser("leave", help="members' leave (no reminders; excused in digests)")
    lsub = leave.add_subparsers(dest="leave_command", required=True)
    la = lsub.add_parser("add", help="record leave (inclusive dates)")
    la.add_argument("open_id")
    la.add_argument("start", type=common.parse_date)
    la.add_argument("end", type=common.parse_date, nargs="?")
    la.set_defaults(fn=cmd_leave_add)
    ll = lsub.add_parser("list", help="current and upcoming leave")
    ll.set_defaults(fn=cmd_leave_list)
    lc = lsub.add_parser("cancel", help="remove a member's current and future leave")
    lc.add_argument("open_id")
    lc.set_defaults(fn=cmd_leave_cancel)


def cmd_leave_add(args: argparse.Namespace) -> int:
    from storage import db
    from storage.leave import add_leave
    from storage.members import get_member

    settings, _ = common.context()
    end = args.end or args.start
    if end < args.start:
        raise common.fail("the end is before the start")

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            if await get_member(session, args.open_id) is None:
                return None
            added = await add_leave(session, args.open_id, args.start, end, common.now())
            await session.commit()
            return added

    added = common.run_db(settings, run)
    if added is None:
        raise common.fail(f"{args.open_id} is not an active team member")
    print(
        f"leave {args.open_id} {args.start} – {end}: {'recorded' if added else 'already recorded'}"
    )
    return 0


def cmd_leave_list(args: argparse.Namespace) -> int:
    from storage import plain

    settings, _, _ = common.checked()

    async def run(reader):
        today = common.now().astimezone(settings.tz).date()
        names = await common.reader_names(reader)
        return [(lv, names) for lv in await plain.list_leave(reader, since=today)]

    rows = common.run_reads(settings, run)
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

    settings, services = common.context()

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            today = common.now().astimezone(services.tz).date()
            removed = await remove_leave(session, args.open_id, today)
            await session.commit()
            return removed

    print(f"{common.run_db(settings, run)} leave span(s) removed for {args.open_id}")
    return 0
