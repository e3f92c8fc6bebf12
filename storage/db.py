"""Engine, sessions and migrations. SQLite (WAL) by default, PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sqlite_driver import one_hop

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


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
    """An async engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
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

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest migration this code ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at (None for an empty database)."""
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Run Alembic migrations on this engine's database."""

    def _run(sync_conn) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


async def ensure_schema(engine: AsyncEngine, *, auto_upgrade: bool) -> None:
    """Upgrade (embedded SQLite) or refuse to run on a database that is behind (PostgreSQL)."""
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
