"""What every command needs: settings, logging, the policy, a database, and clear failures.

Commands import heavy modules (SQLAlchemy, lark-oapi) inside their functions, so that
`dutybot policy show` stays fast and never loads the Feishu SDK."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings

if TYPE_CHECKING:  # pragma: no cover
    from bot.dispatch.context import Services
    from bot.domain.policy import Policy
    from bot.domain.workcalendar import WorkCalendar
    from storage.plain import Reader

SubParsers = argparse._SubParsersAction


def settings() -> Settings:
    """Settings from the environment and ./.env, or exit 2 listing every problem."""
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)
    try:
        return Settings.from_env()
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        raise SystemExit(2) from None


def setup_logging(level: str) -> None:
    """Readable lines on a terminal, JSON lines otherwise; secrets are always masked."""
    from bot.logs import setup_logging as setup

    setup(level)


def fail(title: str, errors: list[str] | tuple[str, ...] = ()) -> SystemExit:
    """Print a title and its errors to stderr; return the SystemExit(2) to raise."""
    print(title, file=sys.stderr)
    for line in errors:
        print(f"  - {line}", file=sys.stderr)
    return SystemExit(2)


def load_policy(settings: Settings):
    from bot.domain.policy import PolicyError, load_policy

    try:
        return load_policy(settings.policy_path)
    except PolicyError as exc:
        raise fail(f"The policy file {settings.policy_path} has errors:", exc.errors) from None


def checked() -> tuple[Settings, Policy, WorkCalendar]:
    """Settings, policy and calendar, or exit 2 with the reason."""
    from bot.domain.workcalendar import CalendarError, WorkCalendar

    cfg = settings()
    policy = load_policy(cfg)
    try:
        calendar = WorkCalendar.from_file(cfg.calendar_path)
    except CalendarError as exc:
        raise fail(f"The calendar file {cfg.calendar_path} has errors:", exc.errors) from None
    return cfg, policy, calendar


def context() -> tuple[Settings, Services]:
    """Settings, policy, calendar and services, or exit 2 with the reason."""
    from bot.dispatch.context import Services  # imports the ORM: commands that read use checked()

    cfg, policy, calendar = checked()
    return cfg, Services(cfg, policy, calendar)


async def with_db(settings: Settings, fn, *, auto_upgrade: bool = True):
    """Run `fn(engine)` on a database at the current schema (SQLite upgrades itself)."""
    from storage import db

    engine = db.make_engine(settings.database_url)
    try:
        await db.ensure_schema(engine, auto_upgrade=auto_upgrade and settings.is_sqlite)
        return await fn(engine)
    finally:
        await engine.dispose()


def run_db(settings: Settings, fn, *, what: str = "run"):
    """`with_db` in a fresh event loop; a database behind the code is exit 2 with the reason."""
    import asyncio

    from storage.db import DatabaseBehind

    try:
        return asyncio.run(with_db(settings, fn))
    except DatabaseBehind as exc:
        print(f"cannot {what}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run_reads(settings: Settings, fn, *, what: str = "run"):
    """`fn(reader)` (storage.plain) on a database at the current schema, for commands that
    only read. A SQLite file at the shipped head is read through sqlite3, without importing
    SQLAlchemy, SQLModel or the models (~0.5 s of CPU a process); anything else goes the
    way of run_db (created, upgraded or refused with the reason) and is read on the engine."""
    from storage import plain

    path = plain.sqlite_file(settings.database_url)
    conn = plain.open_at_head(path) if path else None
    if conn is None and path is not None:
        run_db(settings, _nothing, what=what)  # creates or upgrades the file, or exits 2
        conn = plain.open_at_head(path)
    if conn is not None:
        try:
            return _without_a_loop(fn(plain.SqliteReader(conn)))
        finally:
            conn.close()

    async def on_engine(engine):
        async with engine.connect() as connection:
            return await fn(plain.EngineReader(connection))

    return run_db(settings, on_engine, what=what)


async def _nothing(_engine) -> None:
    return None


def _without_a_loop(coro):
    """The result of a coroutine that never waits (its awaits are SqliteReader's sqlite3
    calls), run without an event loop: importing asyncio (and ssl) costs ~0.04 s."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a read on sqlite3 waited for something: it needs an event loop")


def now() -> datetime:
    from bot.clock import SystemClock

    return SystemClock().now()


async def with_departments(session, services: Services) -> Services:
    """`services` with every department's policy, as the last `org sync` stored them."""
    from storage.departments import load_policies

    services.policies = await load_policies(session, services.policy)
    return services


async def member_names(session) -> dict[str, str]:
    """Names of members past and present; people who left are marked "(left)"."""
    from storage.members import all_names

    return shown_names(await all_names(session))


def shown_names(rows: list[tuple[str, str, bool]]) -> dict[str, str]:
    """Names by open_id of (open_id, name, active) rows, as member_names shows them."""
    from bot.domain.roster import shown_name

    return {o: shown_name(name, active, "en") for o, name, active in rows}


async def reader_names(reader: Reader) -> dict[str, str]:
    """member_names, read through storage.plain."""
    from storage.plain import all_names

    return shown_names(await all_names(reader))


# -- argument types (argparse turns ArgumentTypeError into a usage message and exit 2) --


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 instant (e.g. 2026-12-04T17:30:00+08:00)"
        ) from None
