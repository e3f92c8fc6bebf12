"""The HTTP edge: POST /feishu/events (events and card callbacks), GET /healthz."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.app import BotApp
from bot.ingress import MAX_BODY_BYTES, Challenge, Rejected, parse_request

log = logging.getLogger("dutybot.webhook")
BOT_APP = web.AppKey("bot_app", BotApp)


async def feishu_events(request: web.Request) -> web.Response:
    bot = request.app[BOT_APP]
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        bot.stats["rejected"] += 1
        return web.json_response({"msg": "body too large"}, status=413)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        bot.stats["rejected"] += 1
        return web.json_response({"msg": "body too large"}, status=413)
    result = parse_request(body, request.headers, bot.keys, bot.clock.now(), bot.max_age)
    if isinstance(result, Rejected):
        bot.stats["rejected"] += 1
        log.warning("rejected webhook request from %s: %s", request.remote, result.reason)
        return web.json_response({"msg": result.reason}, status=result.status)
    if isinstance(result, Challenge):
        return web.json_response({"challenge": result.challenge})
    try:
        if result.is_callback and not result.stale:
            return web.json_response(await bot.callback(result))
        await bot.accept(result)
    except Exception:
        # The event is not stored: answer 503 so Feishu delivers it again later.
        log.exception("could not store event %s", result.event_id)
        return web.json_response({"msg": "temporarily unavailable"}, status=503)
    return web.json_response({})


async def healthz(request: web.Request) -> web.Response:
    ok = await request.app[BOT_APP].database_ok()
    return web.json_response({"ok": ok, "database": ok}, status=200 if ok else 503)


def make_web_app(bot: BotApp) -> web.Application:
    """The aiohttp application; bodies over 1 MiB are refused with 413 before parsing."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[BOT_APP] = bot
    app.router.add_post("/feishu/events", feishu_events)
    app.router.add_get("/healthz", healthz)
    return app
