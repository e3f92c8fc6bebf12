"""`dutybot tick` stays lean (issue 11, "cheap commands stay cheap"): what only serving
needs (lark-oapi, aiohttp, the handlers, webhook verification, callback answers, Alembic)
is not imported by the modules a tick loads, and an idle tick builds none of the serving
objects. In-process: module-level imports are read from the source (imports inside
functions and under `if TYPE_CHECKING:` are the lazy ones, and do not count)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from bot.app import build_app
from bot.clock import FixedClock
from bot.jobs.scheduler import run_tick
from storage import db
from tests.conftest import NOW, make_settings

ROOT = Path(__file__).resolve().parent.parent
OURS = ("bot", "handlers", "storage", "cards")
# What `dutybot tick` runs: the command line, the command, the composition root, the pass.
TICK_ROOTS = ("bot.__main__", "bot.cli.main", "bot.cli.tick", "bot.app", "bot.jobs.scheduler")
NEVER_ON_THE_TICK = (
    "lark_oapi",
    "aiohttp",
    "httpx",
    "alembic",
    "Crypto",
    "handlers",
    "bot.transport",
    "bot.dispatch.dispatcher",
    "bot.dispatch.router",
    "bot.delivery.inbox",
    "bot.feishu.httpx_pool",
    "cards.answers",
    "docx",
    "openpyxl",
    "playwright",
)


def _source(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(module: str, path: Path) -> set[str]:
    """Modules a module imports when it is imported (not inside functions or classes'
    methods, not under TYPE_CHECKING); `from a import b` counts a.b when that is a module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                found.add(base)
                for alias in node.names:
                    if _source(f"{base}.{alias.name}") is not None:
                        found.add(f"{base}.{alias.name}")
            elif isinstance(node, ast.If):
                if not _is_type_checking(node):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.ClassDef):
                visit([n for n in node.body if not isinstance(n, ast.FunctionDef)])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def imported_on_import(roots: tuple[str, ...]) -> dict[str, str]:
    """Every module (ours, and the outside ones ours name) that importing `roots` loads,
    each with the module that first imports it."""
    seen: dict[str, str] = {}
    todo = [(root, "") for root in roots]
    while todo:
        module, by = todo.pop()
        names = module.split(".")
        for i in range(1, len(names) + 1):  # importing a.b.c runs a and a.b first
            name = ".".join(names[:i])
            if name in seen:
                continue
            seen[name] = by
            if names[0] not in OURS:
                continue
            path = _source(name)
            if path is not None:
                todo += [(child, name) for child in _top_level_imports(name, path)]
    return seen


def test_the_tick_imports_nothing_that_only_serving_needs():
    loaded = imported_on_import(TICK_ROOTS)
    assert "storage.models" in loaded and "bot.jobs.reminders" in loaded  # the walk works
    wrong = {
        name: by
        for name, by in loaded.items()
        if any(name == bad or name.startswith(bad + ".") for bad in NEVER_ON_THE_TICK)
    }
    assert not wrong, f"imported on the tick's path (module: imported by): {wrong}"


def test_command_line_modules_import_no_heavy_library_at_load():
    """`dutybot --help` and the commands that never talk to Feishu: the command modules
    import SQLAlchemy, pydantic, lark-oapi, aiohttp… inside the commands only."""
    roots = tuple(
        f"bot.cli.{p.stem}" for p in (ROOT / "bot" / "cli").glob("*.py") if p.stem != "__init__"
    )
    loaded = imported_on_import(roots)
    heavy = ("sqlalchemy", "sqlmodel", "pydantic", "lark_oapi", "aiohttp", "alembic", "storage")
    wrong = {
        name: by
        for name, by in loaded.items()
        if any(name == bad or name.startswith(bad + ".") for bad in heavy)
    }
    assert not wrong, f"imported when the command line loads (module: imported by): {wrong}"


def test_the_schema_check_reads_the_same_head_as_alembic():
    assert importlib.util.find_spec("alembic") is not None
    assert db.shipped_head() == db.head_revision()


async def test_an_idle_tick_builds_none_of_the_serving_parts(db_url, emulator):
    settings = make_settings(db_url, emulator.base_url)
    bot = build_app(settings, clock=FixedClock(NOW))
    try:
        await bot.prepare()
        report = await run_tick(bot, NOW)
        assert not report.errors, report.errors
        assert await db.stored_revision(bot.engine) == db.shipped_head()
        for lazy in ("router", "dispatcher", "inbox", "keys"):
            assert lazy not in bot.__dict__, f"an idle tick built BotApp.{lazy}"
        assert bot.gateway is not None and bot.gateway._client is None  # no SDK client
    finally:
        await bot.stop()


def test_the_gateway_loads_only_the_sdk_parts_it_calls(tmp_path):
    """bot.feishu.sdk: the im service without the ~60 others; then `import lark_oapi` (the
    long connection, the emulator's tests) still gets the whole SDK, working. A fresh
    interpreter: this process may have loaded all of lark-oapi already."""
    import os
    import subprocess
    import sys

    code = """
import sys
from bot.feishu import sdk
client = sdk.Client("cli_a", "secret", "https://open.feishu.cn", 5)
assert client.im.v1.message is not None
services = {m.split(".")[2] for m in sys.modules if m.startswith("lark_oapi.api.")}
assert services == {"im"}, services
assert "lark_oapi.client" not in sys.modules and "lark_oapi.ws" not in sys.modules
import lark_oapi as lark
full = lark.Client.builder().app_id("a").app_secret("b").build()
assert full.im.v1.message and lark.ws.Client and lark.EventDispatcherHandler
from lark_oapi.client import _validate_domain
for domain in ("https://open.feishu.cn", "http://127.0.0.1:8", "http://example.com",
               "https://a/path", "ftp://a", "https://u@a", "https://a?q", ""):
    outcomes = []
    for check in (sdk.validate_domain, _validate_domain):
        try:
            check(domain)
            outcomes.append("ok")
        except ValueError:
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1], (domain, outcomes)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "DUTYBOT_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
