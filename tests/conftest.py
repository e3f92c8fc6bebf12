"""Shared fixtures: a local Feishu emulator (real HTTP, own thread), the bot on a fresh
SQLite database with real migrations, and a client that posts signed, encrypted webhooks."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import BotApp, build_app
from bot.clock import FixedClock
from bot.config import Settings
from bot.devtools.emulator import FeishuEmulator
from bot.transport.webhook import make_web_app
from storage import db
from tests import feishu_events as fe

pytest_plugins = ["tests.emulator_helpers"]  # the `emu` and `raw` fixtures of the emulator tests

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Thursday 26 Nov 2026, 10:00 in Shanghai: a working day.
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
TEAM_FILE = Path(__file__).parent / "data" / "team.toml"


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch):
    """Tests never read the developer's .env or FEISHU_* variables."""
    for key in list(os.environ):
        if key.startswith(("FEISHU_", "DUTYBOT_")) or key == "DATABASE_URL":
            monkeypatch.delenv(key, raising=False)


_real_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and host not in ("127.0.0.1", "localhost", "::1")
        and not host.startswith("/")
    ):
        raise RuntimeError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(scope="session")
def emulator_server():
    emu = FeishuEmulator(app_id=fe.APP_ID, app_secret=fe.APP_SECRET, bot_open_id=fe.BOT_OPEN_ID)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def emulator(emulator_server):
    emulator_server.reset()
    return emulator_server


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """One migrated SQLite file per run; each test copies it (real migrations, fast)."""
    import asyncio

    path = tmp_path_factory.mktemp("template") / "template.db"

    async def migrate() -> None:
        engine = db.make_engine(f"sqlite+aiosqlite:///{path}")
        await db.upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture
def db_url(tmp_path, migrated_template) -> str:
    path = tmp_path / "dutybot.db"
    shutil.copy(migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


def make_settings(db_url: str, domain: str, **overrides) -> Settings:
    values = dict(
        app_id=fe.APP_ID,
        app_secret=fe.APP_SECRET,
        verification_token=fe.VERIFICATION_TOKEN,
        encrypt_key=fe.ENCRYPT_KEY,
        domain=domain,
        database_url=db_url,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


async def sync_team(bot: BotApp, path: Path = TEAM_FILE) -> None:
    from storage.org import apply_team, load_team_file
    from storage.tasks import ensure_periodic_tasks

    team = load_team_file(path, set(bot.policy.roles))
    async with bot.sessions() as session:
        await apply_team(session, team, bot.clock.now())
        await session.flush()
        await ensure_periodic_tasks(
            session, bot.policy, bot.calendar, bot.settings.tz, bot.clock.now()
        )
        await session.commit()


class Harness:
    """The bot behind its real webhook, the emulator, and helpers to talk to it."""

    def __init__(
        self, bot: BotApp, client: TestClient, emulator: FeishuEmulator, clock: FixedClock
    ) -> None:
        self.bot, self.client, self.emulator, self.clock = bot, client, emulator, clock

    async def post(self, payload: dict | bytes, **sign_kwargs):
        if isinstance(payload, dict):
            self.emulator.register_event(payload)  # Feishu knows the user's message (for replies)
        # Feishu signs when it sends: the timestamp header is the sending time.
        sign_kwargs.setdefault("timestamp", str(int(self.clock.now().timestamp())))
        req = fe.sign(payload, **sign_kwargs)
        return await self.client.post("/feishu/events", data=req.body, headers=req.headers)

    async def say(self, text: str, sender: str = "ou_planner", **kwargs):
        """Deliver a chat message and wait until the bot has handled it and sent its answer."""
        payload = fe.message(text, sender, self.clock.now(), **kwargs)
        resp = await self.post(payload)
        assert resp.status == 200, await resp.text()
        await self.settle()
        return payload

    async def click(self, operator: str, value: dict, **kwargs) -> dict:
        resp = await self.post(fe.card_action(operator, value, self.clock.now(), **kwargs))
        assert resp.status == 200, await resp.text()
        answer = await resp.json()
        await self.settle()
        return answer

    async def settle(self) -> None:
        """Run the inbox and outbox until both are empty."""
        for _ in range(5):
            handled = await self.bot.inbox.drain()
            sent = await self.bot.outbox.drain() if self.bot.outbox else 0
            if not handled and not sent:
                return


@pytest.fixture
async def harness(db_url, emulator, clock):
    settings = make_settings(db_url, emulator.base_url)
    async with build_app(settings, clock=clock) as bot:  # workers off: tests drain them
        await sync_team(bot)
        client = TestClient(TestServer(make_web_app(bot)))
        await client.start_server()
        yield Harness(bot, client, emulator, clock)
        await client.close()


@pytest.fixture
async def mirrored(db_url, emulator, clock):
    """The harness with DUTYBOT_FEISHU_TASKS=on (and no pause between the mirror's looks)."""
    settings = make_settings(db_url, emulator.base_url, feishu_tasks=True)
    async with build_app(settings, clock=clock) as bot:
        bot.task_mirror.min_interval = 0
        await sync_team(bot)
        client = TestClient(TestServer(make_web_app(bot)))
        await client.start_server()
        yield Harness(bot, client, emulator, clock)
        await client.close()


# -- shared by the PostgreSQL and CLI tests ---------------------------------------------
PG = os.environ.get("DUTYBOT_TEST_PG", "postgres@127.0.0.1:5432")
ROOT = Path(__file__).resolve().parent.parent


async def _pg_admin():
    import asyncpg

    user, _, hostport = PG.partition("@")
    host, _, port = hostport.partition(":")
    return await asyncpg.connect(
        user=user, host=host, port=int(port or 5432), database="postgres", timeout=3
    )


@pytest.fixture
async def pg_url():
    """A throwaway PostgreSQL database (skipped, with the reason, when no server answers)."""
    import secrets

    try:
        conn = await _pg_admin()
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        pytest.skip(f"PostgreSQL not reachable at {PG}: {exc}")
    name = f"dutybot_test_{secrets.token_hex(4)}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+asyncpg://{PG.split('@')[0]}@{PG.split('@')[1]}/{name}"
    await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await conn.close()


@dataclass
class CliResult:
    """What a user sees from one `dutybot` command (the shape of subprocess.CompletedProcess)."""

    returncode: int
    stdout: str
    stderr: str


def run_cli_in(cwd: Path, *args: str, env: dict | None = None) -> CliResult:
    """Run `dutybot ARGS` in this process, in `cwd`, with `env` added to a clean environment
    (no FEISHU_/DUTYBOT_/DATABASE_URL from outside); the process's environment, working
    directory and logging are restored afterwards (.env files load into os.environ)."""
    import contextlib
    import io
    import logging

    from bot.cli import main

    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    root = logging.getLogger()
    saved_log = (list(root.handlers), root.level)
    for key in list(os.environ):
        if key.startswith(("FEISHU_", "DUTYBOT_")) or key == "DATABASE_URL":
            del os.environ[key]
    os.environ.update(env or {})
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers[:] = saved_log[0]
        root.setLevel(saved_log[1])
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def run_cli(tmp_path):
    """`run_cli(*args, env=None)`: the `dutybot` command in-process, in tmp_path (so its
    default SQLite database is tmp_path / "dutybot.db")."""

    def run(*args: str, env: dict | None = None) -> CliResult:
        return run_cli_in(tmp_path, *args, env=env)

    return run
