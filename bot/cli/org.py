"""`dutybot org sync | export`: the team as a TOML file, loaded idempotently."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli import common


def register(sub: common.SubParsers) -> None:
    org = sub.add_parser("org", help="the team").add_subparsers(dest="org_command", required=True)
    sync = org.add_parser("sync", help="create or update the team from a TOML file")
    sync.add_argument("file")
    sync.set_defaults(fn=cmd_org_sync)
    export = org.add_parser("export", help="write the current team to a TOML team file")
    export.add_argument("file")
    export.set_defaults(fn=cmd_org_export)


def cmd_org_sync(args: argparse.Namespace) -> int:
    from bot.domain.workcalendar import WorkCalendar
    from storage import db
    from storage.org import TeamFileError, apply_team, load_team_file
    from storage.policy_sync import sync_policy
    from storage.tasks import ensure_periodic_tasks

    settings = common.settings()
    policy = common.load_policy(settings)
    try:
        team = load_team_file(args.file, set(policy.roles))
    except TeamFileError as exc:
        raise common.fail(f"{args.file} has errors; nothing was written:", exc.errors) from None

    async def run(engine):
        now = common.now()
        calendar = WorkCalendar.from_file(settings.calendar_path)
        async with db.make_session_factory(engine)() as session:
            await sync_policy(session, policy, now)
            report = await apply_team(session, team, now)
            await session.flush()
            created = await ensure_periodic_tasks(session, policy, calendar, settings.tz, now)
            await session.commit()
        return report, created

    report, created = common.run_db(settings, run, what="sync")
    print(report.render())
    print(f"{created} periodic tasks created")
    return 0


def cmd_org_export(args: argparse.Namespace) -> int:
    import tomli_w

    from storage import db
    from storage.members import export_team

    settings = common.settings()

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            return await export_team(session)

    team = common.run_db(settings, run, what="export")
    Path(args.file).write_text(
        "# DutyBot team file, exported; edit and load with `dutybot org sync FILE`.\n"
        + tomli_w.dumps(team),
        encoding="utf-8",
    )
    print(f"wrote {len(team['members'])} members and {len(team['chats'])} chats to {args.file}")
    return 0
