"""The sandbox never touches a real team: `dutybot run` without credentials refuses (exit 2,
nothing written) a database whose team was synced from a team file or the directory, or
that holds people the demo does not have; its own database restarts fine, also after a
directory import inside the sandbox. Its web chat and API (no login) answer loopback
peers only, and the start-up line says so."""

from __future__ import annotations

import socket
import sqlite3

import aiohttp
import pytest
from aiohttp import web

from bot.cli.serve import _sandbox_banner, _sandbox_settings
from bot.devtools.sandbox.server import Sandbox, SandboxRefused, check_database
from bot.domain.directory import ImportPlan, Person, Placed
from bot.transport.webhook import make_web_app
from storage.org import import_people
from tests.conftest import TEAM_FILE, _loopback_only, _real_connect, make_settings
from tests.test_sandbox import free_port


def members(path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("select open_id, active from members").fetchall())


def test_run_without_credentials_refuses_a_database_synced_from_a_team_file(run_cli, tmp_path):
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'production.db'}"}
    assert run_cli("org", "sync", str(TEAM_FILE), env=env).returncode == 0
    before = members(tmp_path / "production.db")

    result = run_cli("run", env=env)

    assert result.returncode == 2
    assert "starting the sandbox instead" in result.stdout
    assert "DutyBot sandbox refuses to start on sqlite+aiosqlite:///" in result.stderr
    assert "synced from a team file or the Feishu directory" in result.stderr
    assert "Unset DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert members(tmp_path / "production.db") == before  # nobody deactivated, no demo admins
    assert all(active for active in before.values())


def test_a_database_with_people_the_demo_does_not_have_is_refused(run_cli, tmp_path):
    """An older database (synced before databases were marked) is recognised by its people."""
    path = tmp_path / "older.db"
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{path}"}
    assert run_cli("org", "sync", str(TEAM_FILE), env=env).returncode == 0
    with sqlite3.connect(path) as conn:
        conn.execute("delete from markers where key like 'database:%'")

    result = run_cli("sandbox", env=env)

    assert result.returncode == 2
    assert "member(s) who are not in the sandbox's demo team" in result.stderr


async def test_the_sandbox_restarts_on_its_own_database_after_a_directory_import(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}"
    await check_database(url)  # a new database is fine
    box = Sandbox(make_settings(url, "http://127.0.0.1:1", app_id="", app_secret=""))
    bot = await box.start()
    try:
        async with bot.sessions() as session:  # the import card, as clicked in the sandbox
            newcomer = Placed(Person("ou_liu", "刘洋 (实习生)"), role="planner")
            await import_people(
                session, ImportPlan((newcomer,), ()), bot.clock.now(), source="chat import (card)"
            )
            await session.commit()
    finally:
        await bot.stop()
        await box.stop()
    await check_database(url)  # still the sandbox's own

    async with make_bot_for(url) as real:  # the real bot imports from the real directory
        async with real.sessions() as session:
            await import_people(
                session,
                ImportPlan((Placed(Person("ou_new", "New"), role="planner"),), ()),
                real.clock.now(),
                source="chat import oc_team",
            )
            await session.commit()
    with pytest.raises(SandboxRefused, match="not in the sandbox's demo team"):
        await check_database(url)


def make_bot_for(url: str):
    from bot.app import build_app

    return build_app(make_settings(url, "http://127.0.0.1:1", app_id="", app_secret=""))


def test_the_sandbox_listens_on_loopback_and_says_so(monkeypatch):
    settings = make_settings("sqlite+aiosqlite:///x.db", "http://127.0.0.1:1", host="0.0.0.0")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    sandbox = _sandbox_settings(settings)
    assert sandbox.host == "127.0.0.1"
    assert sandbox.database_url == "sqlite+aiosqlite:///dutybot-sandbox.db"
    assert "listens on 127.0.0.1 (loopback) only" in _sandbox_banner(sandbox)


def outward_address() -> str | None:
    """This machine's address on its first non-loopback interface (a UDP "connect" picks
    the route and sends no packet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            _real_connect(s, ("192.0.2.254", 9))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


async def test_the_sandbox_api_answers_loopback_peers_only(tmp_path, monkeypatch):
    """Even when bound to every interface, a peer from another address gets 403."""
    outward = outward_address()
    if outward is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")

    def own_address_too(sock, address):  # still this machine: nothing leaves it
        if isinstance(address, tuple) and address[0] == outward:
            return _real_connect(sock, address)
        return _loopback_only(sock, address)

    monkeypatch.setattr(socket.socket, "connect", own_address_too)
    url = f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}"
    port = free_port()
    box = Sandbox(make_settings(url, "http://127.0.0.1:1", app_id="", app_secret="", port=port))
    bot = await box.build()
    bot.scheduler = False
    await bot.start()
    app = make_web_app(bot)
    box.install(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    try:
        async with aiohttp.ClientSession() as http:
            local = await http.get(f"http://127.0.0.1:{port}/sandbox/api/state")
            assert local.status == 200
            for method, path in [
                ("GET", "/sandbox/api/state"),
                ("GET", "/"),
                ("POST", "/sandbox/api/click"),
                ("POST", "/sandbox/api/say"),
            ]:
                resp = await http.request(method, f"http://{outward}:{port}{path}", json={})
                assert resp.status == 403, path
                assert "loopback" in await resp.text()
    finally:
        await runner.cleanup()
        await bot.stop()
        await box.stop()
