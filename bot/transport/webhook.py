"""The HTTP edge: POST /feishu/events (events and card callbacks), GET /healthz (liveness),
GET /readyz (database, Feishu token, transport), GET /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from aiohttp import web

from bot.delivery.ingest import UnstorableEvent
from bot.metrics import BotMetrics
from bot.transport.ingress import MAX_BODY_BYTES, Challenge, Rejected, parse_request

if TYPE_CHECKING:  # pragma: no cover - the app is handed in; the transport sits below it
    from bot.app import BotApp

log = logging.getLogger("dutybot.webhook")
BOT_APP: web.AppKey[BotApp] = web.AppKey("bot_app")
METRICS = web.AppKey("metrics", BotMetrics)


async def feishu_events(request: web.Request) -> web.Response:
    bot = request.app[BOT_APP]
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        bot.stats["rejected"] += 1
        return web.json_response({"msg": "body too large"}, status=413)
    try:
        # A client that trickles its body must not hold a connection (and a handler) open.
        # (A body that has fully arrived, the usual case, is read without the timer.)
        if request.content.is_eof():
            body = await request.read()
        else:
            body = await asyncio.wait_for(request.read(), bot.settings.body_timeout_seconds)
    except web.HTTPRequestEntityTooLarge:
        bot.stats["rejected"] += 1
        return web.json_response({"msg": "body too large"}, status=413)
    except TimeoutError:
        bot.stats["rejected"] += 1
        log.warning("request body from %s too slow; 408", request.remote)
        return web.json_response({"msg": "request timeout"}, status=408)
    result = parse_request(
        body, request.headers, bot.keys, bot.clock.now(), bot.max_age, bot.signature_tolerance
    )
    if isinstance(result, Rejected):
        bot.stats["rejected"] += 1
        log.warning("rejected webhook request from %s: %s", request.remote, result.reason)
        return web.json_response({"msg": result.reason}, status=result.status)
    if isinstance(result, Challenge):
        return web.json_response({"challenge": result.challenge})
    try:
        if result.is_callback and not result.stale:
            started = time.perf_counter()
            answer = await bot.callback(result)
            request.app[METRICS].callback_seconds.observe(time.perf_counter() - started)
            return web.json_response(answer)
        await bot.accept(result)
    except UnstorableEvent:
        bot.stats["rejected"] += 1
        return web.json_response({"msg": "bad request"}, status=400)
    except Exception:
        # The event is not stored: answer 503 so Feishu delivers it again later.
        log.exception("could not store event %s", result.event_id)
        return web.json_response({"msg": "temporarily unavailable"}, status=503)
    return web.Response(text="{}", content_type="application/json")  # json_response({})


def _transport(bot: BotApp) -> dict:
    transport = getattr(bot, "transport", None)
    return (
        transport.health()
        if transport is not None
        else {"transport": "webhook", "state": "listening"}
    )


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers and the database is reachable."""
    bot = request.app[BOT_APP]
    ok = await bot.database_ok()
    return web.json_response(
        {"ok": ok, "database": ok, **_transport(bot)}, status=200 if ok else 503
    )


async def readyz(request: web.Request) -> web.Response:
    """Readiness: database, a Feishu token (when an app is configured), transport up."""
    bot = request.app[BOT_APP]
    checks: dict[str, object] = {"database": await bot.database_ok()}
    if bot.gateway is not None:
        try:
            await bot.gateway.tokens.get()
            checks["feishu_token"] = True
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["feishu_token"] = False
            checks["feishu_error"] = type(exc).__name__
    else:
        checks["feishu_token"] = "not configured"
    transport = _transport(bot)
    checks["transport"] = transport
    ready = (
        checks["database"] is True
        and checks["feishu_token"] is not False
        and transport["state"]
        in (
            "listening",
            "connected",
        )
    )
    return web.json_response({"ready": ready, **checks}, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    collector = request.app[METRICS]
    await collector.refresh()
    return web.Response(body=collector.render(), content_type="text/plain", charset="utf-8")


def make_web_app(bot: BotApp) -> web.Application:
    """The aiohttp application; bodies over 1 MiB are refused with 413 before parsing."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[BOT_APP] = bot
    app[METRICS] = BotMetrics(bot)
    app.router.add_post("/feishu/events", feishu_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
