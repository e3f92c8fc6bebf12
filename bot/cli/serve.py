"""`dutybot run` and `dutybot sandbox`: the long-running bot (webhook or long connection,
workers, scheduler, maintenance: all started by `BotApp`) until SIGINT / SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

from bot.cli import common
from bot.config import Settings, redact_url
from bot.fast import run

log = logging.getLogger("dutybot")


def register(sub: common.SubParsers) -> None:
    sub.add_parser(
        "run", help="run the bot (the sandbox when no credentials are set)"
    ).set_defaults(fn=cmd_run)
    sub.add_parser(
        "sandbox", help="the bot with a local Feishu emulator and a web chat"
    ).set_defaults(fn=cmd_sandbox)


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
            f"  It listens on {settings.host} (loopback) only: its web chat and API have no login,",
            "  so only this computer can reach them (other peers get 403).",
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

    common.load_policy(settings)  # clear errors before anything starts
    box = None
    if sandbox:
        from bot.devtools.sandbox.server import Sandbox, SandboxRefused

        box = Sandbox(settings)
        try:
            bot = await box.build()
        except SandboxRefused as exc:
            print(
                f"DutyBot sandbox refuses to start on {redact_url(settings.database_url)}: {exc}.\n"
                "  The sandbox would deactivate that team and add demo admins. Unset DATABASE_URL\n"
                "  (the sandbox then uses its own dutybot-sandbox.db), or set the FEISHU_* credentials\n"
                "  to run the real bot on it.",
                file=sys.stderr,
            )
            raise SystemExit(2) from None
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
    """The sandbox keeps its demo data out of the real database unless told otherwise, and
    listens on loopback only (its API lets anyone act as anyone)."""
    from dataclasses import replace

    from bot.devtools.sandbox.server import is_loopback

    if not is_loopback(settings.host):
        print(
            f"The sandbox listens on 127.0.0.1 only (DUTYBOT_HOST={settings.host} is for the real bot).",
            flush=True,
        )
        settings = replace(settings, host="127.0.0.1")
    if "DATABASE_URL" in os.environ:
        return settings
    return replace(settings, database_url="sqlite+aiosqlite:///dutybot-sandbox.db")


def cmd_run(args: argparse.Namespace) -> int:
    settings = common.settings()
    common.setup_logging(settings.log_level)
    sandbox = not settings.has_credentials
    if sandbox:
        print("No Feishu credentials configured: starting the sandbox instead.", flush=True)
        settings = _sandbox_settings(settings)
    run(_serve(settings, sandbox=sandbox))  # uvloop when installed
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    settings = _sandbox_settings(common.settings())
    common.setup_logging(settings.log_level)
    run(_serve(settings, sandbox=True))
    return 0
