"""Engine, sessions and migrations. SQLite (WAL) by default, PostgreSQL in production.

Alembic (~0.2 s to import) is loaded only to migrate, or when the database is not plainly
at the shipped head: `ensure_schema` first compares the version row with the head read
from the migration files' `revision` / `down_revision` lines (what every `dutybot tick`
from cron does)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import event, text
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.schema import MIGRATIONS_DIR, shipped_head

if TYPE_CHECKING:  # pragma: no cover
    from alembic.config import Config


class DatabaseBehind(Exception):
    """The schema is older than this code; `dutybot db upgrade` fixes it."""


# What the drivers raise when the database cannot be reached, opened or written: the
# command line turns these into one line naming DATABASE_URL and the cause.
def is_unavailable(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # asyncpg and socket errors surface unwrapped while connecting
    return isinstance(exc, OSError | TimeoutError) or type(exc).__module__.startswith("asyncpg")


def unavailable_cause(exc: BaseException) -> str:
    """The driver's own first line (no URL, so no password), e.g. 'unable to open database
    file' or 'Connect call failed ('127.0.0.1', 5433)'."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return text[:300]


def make_engine(url: str, **kwargs) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and enforced foreign keys; other
    databases' pooled connections are pinged when idle for `idle_ping_s` (see
    _ping_when_idle)."""
    if url.startswith("sqlite"):
        from storage.sqlite_driver import one_hop

        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - exercised by every test
            one_hop(dbapi_conn)  # a statement is one hand-off to SQLite's thread, not four
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        _skip_idle_transaction_ends(engine)
        return engine
    idle_ping_s = kwargs.pop("idle_ping_s", IDLE_PING_S)
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, idle_ping_s)
    return engine


# A pooled connection unused for longer than this is pinged before it is handed out.
IDLE_PING_S = 10.0


def _ping_when_idle(engine: AsyncEngine, idle_s: float) -> None:
    """pool_pre_ping, for connections that sat idle: a server restart or an idle timeout
    leaves them dead, and a ping that fails hands out a new connection instead (and, as
    pool_pre_ping does, retires every older one). A connection back in the pool for less
    than `idle_s` was working a moment ago and is handed out as it is: pool_pre_ping would
    cost every checkout three round trips (BEGIN, the ping, ROLLBACK on asyncpg), more
    than the indexed reads most sessions make. Should such a connection have died
    meanwhile, the statement that finds out fails as it would have mid-session anyway,
    and the pool retires every connection older than that failure."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "connect")
    @event.listens_for(engine.sync_engine, "checkin")
    def _stamp(_dbapi_conn, record) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_conn, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < idle_s:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure: this connection is gone
            raise InvalidatePoolError(f"ping after {idle_s:.0f} s idle failed: {exc}") from exc


def _skip_idle_transaction_ends(engine: AsyncEngine) -> None:
    """On SQLite, COMMIT / ROLLBACK only when the connection is in a transaction.

    sqlite3's own commit() and rollback() do nothing outside a transaction, but through
    aiosqlite each call is still a hand-off to the connection's thread and back; a
    read-only session paid two of them when it closed (the session's rollback, then the
    pool's reset), more than the indexed read itself. `in_transaction` is the very test
    sqlite3 makes (sqlite3_get_autocommit), read here without the hand-off."""
    from storage.sqlite_driver import drop_later, has_later

    dialect = engine.sync_engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def in_transaction(dbapi_connection) -> bool:
        try:
            return dbapi_connection.driver_connection.in_transaction
        except Exception:  # noqa: BLE001 - closed or unknown: let the driver decide, as before
            return True

    def do_commit(dbapi_connection) -> None:
        # writes queued for the next hop (storage.sqlite_driver.write_later) commit too
        if in_transaction(dbapi_connection) or has_later(
            getattr(dbapi_connection, "driver_connection", None)
        ):
            commit(dbapi_connection)

    def do_rollback(dbapi_connection) -> None:
        drop_later(getattr(dbapi_connection, "driver_connection", None))
        if in_transaction(dbapi_connection):
            rollback(dbapi_connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


async def stored_revision(engine: AsyncEngine) -> str | None:
    """The one row of `alembic_version`, by plain SQL; None when there is no such table or
    not exactly one row (Alembic then looks, as before)."""
    from sqlalchemy.exc import DBAPIError

    async with engine.connect() as conn:
        try:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        except DBAPIError:
            return None
    return rows[0][0] if len(rows) == 1 else None


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Run Alembic migrations on this engine's database."""

    from alembic import command

    def _run(sync_conn) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


async def ensure_schema(engine: AsyncEngine, *, auto_upgrade: bool) -> None:
    """Upgrade (embedded SQLite) or refuse to run on a database that is behind (PostgreSQL)."""
    shipped = shipped_head()
    if shipped is not None and await stored_revision(engine) == shipped:
        return  # the usual case, decided without importing Alembic
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return
    if auto_upgrade:
        await upgrade(engine)
        return
    raise DatabaseBehind(
        f"the database schema is at {current or 'nothing'}, this DutyBot needs {head}: "
        "run `dutybot db upgrade` first"
    )


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
