"""`dutybot org sync | export | import`: the team as a TOML file, loaded idempotently, or
from the Feishu directory (a department and/or a chat; roles from job titles)."""

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
    imp = org.add_parser(
        "import",
        help="add people from the Feishu directory (a department and/or a chat), "
        "roles from their job titles",
    )
    imp.add_argument("--department", metavar="DEPT_ID", help="an open_department_id (od-…)")
    imp.add_argument("--chat", metavar="CHAT_ID", help="a group chat's id (oc_…)")
    imp.add_argument("--write", metavar="FILE", help="write a team file for review; change nothing")
    imp.add_argument(
        "--into",
        metavar="KEY",
        help="the DutyBot department they join (roles from its policy); required when the "
        "last `org sync` declared several departments (default: the only one)",
    )
    imp.set_defaults(fn=cmd_org_import)


def cmd_org_sync(args: argparse.Namespace) -> int:
    from bot.dispatch.context import Ctx, Services
    from bot.domain.workcalendar import WorkCalendar
    from handlers.people import after_sync
    from handlers.reports.routing import reroute_pending
    from storage import db
    from storage.org import TeamFileError, apply_team, load_team_file, team_policies
    from storage.policy_sync import sync_policy
    from storage.tasks import ensure_all_periodic_tasks

    settings = common.settings()
    policy = common.load_policy(settings)
    try:
        team = load_team_file(args.file, set(policy.roles))
    except TeamFileError as exc:
        raise common.fail(f"{args.file} has errors; nothing was written:", exc.errors) from None
    policies = team_policies(team, policy)

    async def run(engine):
        now = common.now()
        calendar = WorkCalendar.from_file(settings.calendar_path)
        async with db.make_session_factory(engine)() as session:
            for dept in policies:
                await sync_policy(session, dept.policy, now, dept.key)
            report = await apply_team(session, team, now, policies=policies)
            await session.flush()
            # Open work of people who left the file or changed role is handed over, and
            # pending approvals follow the new team (cards queued; `dutybot run` sends them).
            services = Services(settings, policy, calendar, policies=policies)
            ctx = Ctx(session, now, services, source=f"org-sync:{now.isoformat()}")
            handed = await after_sync(ctx, report)
            created = await ensure_all_periodic_tasks(session, policies, calendar, settings.tz, now)
            rerouted = await reroute_pending(ctx)
            await session.commit()
        return report, created, rerouted, handed

    report, created, rerouted, handed = common.run_db(settings, run, what="sync")
    print(report.render())
    for line in handed:
        print(line)
    print(f"{created} periodic tasks created")
    if rerouted:
        print(f"{rerouted} pending report(s) re-routed to their new approver")
    return 0


def cmd_org_import(args: argparse.Namespace) -> int:
    import asyncio

    from bot.dispatch.context import Ctx, Services
    from bot.domain.directory import plan_import
    from bot.domain.workcalendar import WorkCalendar
    from handlers.people import after_sync
    from storage import db
    from storage.org import import_people
    from storage.policy_sync import sync_policy
    from storage.tasks import ensure_all_periodic_tasks

    if not args.department and not args.chat:
        raise common.fail("org import needs --department DEPT_ID and/or --chat CHAT_ID")
    settings = common.settings()
    default_policy = common.load_policy(settings)
    if not settings.has_credentials:
        raise common.fail(
            "org import reads the Feishu directory: set FEISHU_APP_ID and FEISHU_APP_SECRET "
            "(README: 'Connecting a Feishu app' lists the contact scopes it needs)"
        )
    if args.write and not args.into and not _database_exists(settings):
        from bot.domain.departments import DEFAULT_DEPARTMENT, Policies

        # a file for review and no team yet: no database is created
        policies, into = Policies.single(default_policy), DEFAULT_DEPARTMENT
    else:
        policies, into = _import_department(settings, default_policy, args.into)
    policy = policies.get(into)
    people, dept = asyncio.run(_read_directory(settings, args.department, args.chat))
    plan = plan_import(people, policy.roles, dept.leader_open_id if dept else None)
    _print_plan(plan, dept, args.chat, policy)
    if args.write:
        text = team_file_text(plan, policy, None if policies.is_single else into)
        Path(args.write).write_text(text, encoding="utf-8")
        print(f"wrote {len(plan.placed)} members to {args.write}; the database is unchanged")
        return 0

    async def run(engine):
        now = common.now()
        calendar = WorkCalendar.from_file(settings.calendar_path)
        async with db.make_session_factory(engine)() as session:
            await sync_policy(session, policy, now, into)
            report = await import_people(session, plan, now, department=into)
            await session.flush()
            services = Services(settings, default_policy, calendar, policies=policies)
            ctx = Ctx(session, now, services, source=f"org-import:{now.isoformat()}")
            for line in await after_sync(ctx, report):  # a new title, another role: hand-off
                print(line)
            created = await ensure_all_periodic_tasks(session, policies, calendar, settings.tz, now)
            await session.commit()
        return report, created

    report, created = common.run_db(settings, run, what="import")
    print(report.render())
    print(f"{created} periodic tasks created")
    return 0


def _import_department(settings, default_policy, key: str | None):
    """The departments as the last `org sync` stored them, and the one people are imported
    into (exit 2 naming the known ones when `key` is not one of them)."""
    from bot.domain.departments import DEFAULT_DEPARTMENT
    from storage import db
    from storage.departments import load_policies

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            return await load_policies(session, default_policy)

    policies = common.run_db(settings, run, what="import")
    if key is None and len(policies.declared) > 1:  # never guess where people belong
        choices = [f"{k} ({policies.department(k).name})" for k in policies.declared]
        raise common.fail(
            "org import: the team has several departments; say which one the people join "
            "with --into KEY (nothing was written):",
            choices,
        )
    into = key or (policies.declared[0] if policies.declared else DEFAULT_DEPARTMENT)
    if into not in policies:
        known = ", ".join(policies.declared) or DEFAULT_DEPARTMENT
        raise common.fail(f"--into {into}: no such department (departments: {known})")
    return policies, into


def _database_exists(settings) -> bool:
    """False only for an SQLite file that is not there yet (nothing to read departments
    from, and `--write` must not create one)."""
    from sqlalchemy.engine import make_url

    if not settings.is_sqlite:
        return True
    name = make_url(settings.database_url).database
    return bool(name) and name != ":memory:" and Path(name).exists()


async def _read_directory(settings, department: str | None, chat: str | None):
    from bot.clock import SystemClock
    from bot.domain.directory import DirectoryError
    from bot.feishu.directory import Directory
    from bot.feishu.gateway import FeishuGateway

    gateway = FeishuGateway(settings.domain, settings.app_id, settings.app_secret, SystemClock())
    try:
        return await Directory(gateway).gather(department, chat)
    except DirectoryError as exc:
        hint = DIRECTORY_HINTS.get(exc.code, "")
        raise common.fail(f"cannot read the Feishu directory: {exc}" + hint) from None
    finally:
        await gateway.close()


DIRECTORY_HINTS = {
    40004: "\n  the department is outside the app's contact scope (权限管理 → 通讯录权限范围)",
    41050: "\n  a user is outside the app's contact scope (权限管理 → 通讯录权限范围)",
    232006: "\n  no such chat, or the bot is not in it",
    232011: "\n  the bot is not in that chat",
    99991672: "\n  the app lacks a contact scope; see README 'Connecting a Feishu app'",
}


def _print_plan(plan, dept, chat: str | None, policy) -> None:
    from bot.domain.directory import describe_unplaced

    where = []
    if dept is not None:
        where.append(f"department {dept.name} ({dept.open_department_id})")
    if chat:
        where.append(f"chat {chat}")
    total = len(plan.placed) + len(plan.unplaced)
    print(f"{' and '.join(where)}: {total} people")
    for p in plan.placed:
        role = policy.roles[p.role]
        admin = ", admin (department leader)" if p.admin else ""
        print(f"  {p.person.name} ({p.person.open_id}): {role.name_zh} / {role.name_en}{admin}")
    if plan.unplaced:
        print(f"{len(plan.unplaced)} need a role (not added):")
    for u in plan.unplaced:
        leader = " [department leader]" if u.leader else ""
        why = describe_unplaced(u, policy.roles, "en")
        print(f"  {u.person.name} ({u.person.open_id}){leader}: {why}")


def team_file_text(plan, policy, department: str | None = None) -> str:
    """The plan as a team file; people without a role follow as commented-out entries.
    With `department` (several departments) every entry names it."""
    import tomli_w

    from bot.domain.directory import describe_unplaced

    members = []
    for p in plan.placed:
        entry: dict = {"open_id": p.person.open_id, "name": p.person.name, "role": p.role}
        if p.admin:
            entry["admin"] = True
        if department:
            entry["department"] = department
        members.append(entry)
    lines = [
        "# DutyBot team file from the Feishu directory (`dutybot org import --write`).",
        "# Review it, then load it with `dutybot org sync FILE` (which makes the team exactly",
        "# this file) or run `dutybot org import` without --write (which only adds and updates).",
        tomli_w.dumps({"members": members}) if members else "",
    ]
    if plan.unplaced:
        lines.append("# Not added: their job title gives no role. Pick one and uncomment.")
        for u in plan.unplaced:
            why = " ".join(describe_unplaced(u, policy.roles, "en").split())
            entry = {"open_id": u.person.open_id, "name": u.person.name, "role": ""}
            if department:
                entry["department"] = department
            lines.append(f"# ({why})")
            lines.append("# [[members]]")
            lines += [f"# {line}" for line in tomli_w.dumps(entry).splitlines()]
            lines.append("#")
    return "\n".join(lines).rstrip() + "\n"


def cmd_org_export(args: argparse.Namespace) -> int:
    import tomli_w

    from storage.plain import export_team

    team = common.run_reads(common.settings(), export_team, what="export")
    Path(args.file).write_text(
        "# DutyBot team file, exported; edit and load with `dutybot org sync FILE`.\n"
        + tomli_w.dumps(team),
        encoding="utf-8",
    )
    print(f"wrote {len(team['members'])} members and {len(team['chats'])} chats to {args.file}")
    return 0
