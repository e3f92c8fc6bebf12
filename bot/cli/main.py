"""The `dutybot` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bot.config import DEFAULT_DB_FILE, ConfigError, Settings, redact_url

log = logging.getLogger("dutybot")


def _settings() -> Settings:
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)
    try:
        return Settings.from_env()
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        raise SystemExit(2) from None


def _setup_logging(level: str) -> None:
    """Readable lines on a terminal, JSON lines otherwise; secrets are always masked."""
    from bot.logs import setup_logging

    setup_logging(level)


def _load_policy(settings: Settings):
    from bot.domain.policy import PolicyError, load_policy

    try:
        return load_policy(settings.policy_path)
    except PolicyError as exc:
        print(f"The policy file {settings.policy_path} has errors:", file=sys.stderr)
        for line in exc.errors:
            print(f"  - {line}", file=sys.stderr)
        raise SystemExit(2) from None


def _banner(settings: Settings, bot_open_id: str | None) -> str:
    url = f"http://{settings.host}:{settings.port}"
    lines = [
        f"DutyBot is running: webhook {url}/feishu/events, health {url}/healthz",
        f"  database: {redact_url(settings.database_url)}   time zone: {settings.timezone}",
    ]
    if settings.has_credentials:
        lines.append(
            f"  Feishu app {settings.app_id} at {settings.domain}"
            + (f", bot {bot_open_id}" if bot_open_id else "")
        )
        if not settings.encrypt_key:
            lines.append(
                "  warning: FEISHU_ENCRYPT_KEY is not set, so requests cannot be signature-checked; set an Encrypt Key in the app console"
            )
    else:
        lines += [
            "  No Feishu credentials configured: events are accepted and answered into the outbox,",
            "  but nothing is sent to Feishu until you connect an app:",
            "    1. create a custom app at https://open.feishu.cn/app (Lark: open.larksuite.com), enable the Bot",
            "    2. put FEISHU_APP_ID, FEISHU_APP_SECRET, FEISHU_VERIFICATION_TOKEN and FEISHU_ENCRYPT_KEY in .env",
            "    3. set the event and callback request URL to https://<your host>/feishu/events",
            "  See README.md, 'Connecting a Feishu app'.",
        ]
    return "\n".join(lines)


def _sandbox_banner(settings: Settings) -> str:
    url = f"http://{settings.host}:{settings.port}/"
    return "\n".join(
        [
            f"DutyBot sandbox is running: open {url} in a browser.",
            "  A local Feishu emulator, a demo team (the seven roles) and a demo activity; chat as",
            "  anyone, click buttons, submit forms, and move the clock to see reminders and digests.",
            f"  database: {redact_url(settings.database_url)}",
            "  To connect a real Feishu app, set FEISHU_APP_ID, FEISHU_APP_SECRET, FEISHU_VERIFICATION_TOKEN",
            "  and FEISHU_ENCRYPT_KEY in .env and run `dutybot run` (README: 'Connecting a Feishu app').",
        ]
    )


async def _serve(settings: Settings, *, sandbox: bool = False) -> None:
    from aiohttp import web

    from bot.app import build_app
    from bot.transport.webhook import make_web_app
    from storage.db import DatabaseBehind

    _load_policy(settings)  # clear errors before anything starts
    box = None
    if sandbox:
        from bot.devtools.sandbox.server import Sandbox

        box = Sandbox(settings)
        bot = await box.build()
    else:
        bot = build_app(settings, workers=True, scheduler=True)
        if settings.transport == "longconn":
            from bot.transport.longconn import LongConnTransport

            bot.transport = LongConnTransport(bot)
    try:
        await bot.start()  # schema, policy, Feishu, workers, scheduler, transport
    except DatabaseBehind as exc:
        print(f"DutyBot cannot start: {exc}", file=sys.stderr)
        await bot.stop()
        raise SystemExit(2) from None
    web_app = make_web_app(bot)
    if box is not None:
        box.install(web_app)
    runner = web.AppRunner(web_app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        print(
            f"DutyBot cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        await bot.stop()
        raise SystemExit(2) from None
    print(
        _sandbox_banner(settings) if sandbox else _banner(settings, bot.services.bot_open_id),
        flush=True,
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: no new requests; finishing work in flight")
    await runner.cleanup()
    await bot.stop()
    if box is not None:
        await box.stop()
    log.info("stopped")


def _sandbox_settings(settings: Settings) -> Settings:
    """The sandbox keeps its demo data out of the real database unless told otherwise."""
    from dataclasses import replace

    if "DATABASE_URL" in os.environ:
        return settings
    return replace(settings, database_url="sqlite+aiosqlite:///dutybot-sandbox.db")


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    _setup_logging(settings.log_level)
    sandbox = not settings.has_credentials
    if sandbox:
        print("No Feishu credentials configured: starting the sandbox instead.", flush=True)
        settings = _sandbox_settings(settings)
    asyncio.run(_serve(settings, sandbox=sandbox))
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    settings = _sandbox_settings(_settings())
    _setup_logging(settings.log_level)
    asyncio.run(_serve(settings, sandbox=True))
    return 0


def cmd_org_export(args: argparse.Namespace) -> int:
    import tomli_w

    from storage import db
    from storage.members import export_team

    settings = _settings()

    async def run(engine):
        async with db.make_session_factory(engine)() as session:
            return await export_team(session)

    team = asyncio.run(_with_db(settings, run))
    Path(args.file).write_text(
        "# DutyBot team file, exported; edit and load with `dutybot org sync FILE`.\n"
        + tomli_w.dumps(team),
        encoding="utf-8",
    )
    print(f"wrote {len(team['members'])} members and {len(team['chats'])} chats to {args.file}")
    return 0


async def _with_db(settings: Settings, fn, *, auto_upgrade: bool = True):
    from storage import db

    engine = db.make_engine(settings.database_url)
    try:
        await db.ensure_schema(engine, auto_upgrade=auto_upgrade and settings.is_sqlite)
        return await fn(engine)
    finally:
        await engine.dispose()


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage import db

    settings = _settings()

    async def run() -> str:
        engine = db.make_engine(settings.database_url)
        try:
            before = await db.current_revision(engine)
            await db.upgrade(engine)
            after = await db.current_revision(engine)
        finally:
            await engine.dispose()
        return f"database {redact_url(settings.database_url)}: {before or 'empty'} → {after}"

    print(asyncio.run(run()))
    return 0


def cmd_org_sync(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from bot.domain.workcalendar import WorkCalendar
    from storage import db
    from storage.org import TeamFileError, apply_team, load_team_file
    from storage.policy_sync import sync_policy
    from storage.tasks import ensure_periodic_tasks

    settings = _settings()
    policy = _load_policy(settings)
    try:
        team = load_team_file(args.file, set(policy.roles))
    except TeamFileError as exc:
        print(f"{args.file} has errors; nothing was written:", file=sys.stderr)
        for line in exc.errors:
            print(f"  - {line}", file=sys.stderr)
        return 2

    async def run(engine):
        now = SystemClock().now()
        calendar = WorkCalendar.from_file(settings.calendar_path)
        async with db.make_session_factory(engine)() as session:
            await sync_policy(session, policy, now)
            report = await apply_team(session, team, now)
            await session.flush()
            created = await ensure_periodic_tasks(session, policy, calendar, settings.tz, now)
            await session.commit()
        return report, created

    from storage.db import DatabaseBehind

    try:
        report, created = asyncio.run(_with_db(settings, run))
    except DatabaseBehind as exc:
        print(f"cannot sync: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    print(f"{created} periodic tasks created")
    return 0


def cmd_policy_show(args: argparse.Namespace) -> int:
    settings = _settings()
    policy = _load_policy(settings)
    lang = args.lang
    print(f"{policy.name} / {policy.name_en}")
    for role in policy.roles.values():
        boss = policy.roles.get(role.reports_to) if role.reports_to else None
        reports = boss.name(lang) if boss else (role.reports_to_label or "-")
        print(f"\n{role.name_zh} / {role.name_en} [{role.key}]  reports to: {reports}")
        for duty in policy.duties_for_role(role.key):
            flags = " (inferred default, editable)" if duty.inferred else ""
            report = " [report]" if duty.report else ""
            print(f"  - {duty.name_zh} / {duty.name_en} [{duty.key}]{report}{flags}")
            print(f"      due: {duty.due.describe(lang)}")
    return 0


def cmd_policy_check(args: argparse.Namespace) -> int:
    from bot.domain.policy import PolicyError, load_policy

    try:
        policy = load_policy(args.file)
    except PolicyError as exc:
        print(f"{args.file}: {len(exc.errors)} error(s)", file=sys.stderr)
        for line in exc.errors:
            print(f"  - {line}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{args.file}: cannot read ({exc.strerror})", file=sys.stderr)
        return 1
    print(f"{args.file}: OK ({len(policy.roles)} roles, {len(policy.duties)} duties)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dutybot", description="A Feishu/Lark duty bot.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run", help="run the bot (the sandbox when no credentials are set)"
    ).set_defaults(fn=cmd_run)
    sub.add_parser(
        "sandbox", help="the bot with a local Feishu emulator and a web chat"
    ).set_defaults(fn=cmd_sandbox)

    dbp = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    dbp.add_parser("upgrade", help="run migrations").set_defaults(fn=cmd_db_upgrade)

    org = sub.add_parser("org", help="the team").add_subparsers(dest="org_command", required=True)
    sync = org.add_parser("sync", help="create or update the team from a TOML file")
    sync.add_argument("file")
    sync.set_defaults(fn=cmd_org_sync)
    export = org.add_parser("export", help="write the current team to a TOML team file")
    export.add_argument("file")
    export.set_defaults(fn=cmd_org_export)

    pol = sub.add_parser("policy", help="the role-duty policy").add_subparsers(
        dest="policy_command", required=True
    )
    show = pol.add_parser("show", help="print roles and duties")
    show.add_argument("--lang", choices=("zh", "en"), default="zh")
    show.set_defaults(fn=cmd_policy_show)
    check = pol.add_parser("check", help="validate a policy file")
    check.add_argument("file")
    check.set_defaults(fn=cmd_policy_check)

    from bot.cli import schedule as cli_schedule

    cli_schedule.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from storage.db import is_unavailable, unavailable_cause

        if not is_unavailable(exc):
            raise
        raw = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{DEFAULT_DB_FILE}"
        cause = unavailable_cause(exc)
        password = urlsplit(raw).password
        if password:
            cause = cause.replace(password, "***")
        print(f"Cannot use the database (DATABASE_URL={redact_url(raw)}): {cause}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `dutybot policy show | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
