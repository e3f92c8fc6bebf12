"""The no-account sandbox: the real bot, an in-process Feishu emulator, a demo team and a
web page that looks and works like a chat.

Every message typed and every button clicked on the page becomes a real-format Feishu event,
encrypted and signed with the sandbox's own keys and POSTed over HTTP to the bot's
/feishu/events, exactly like Feishu's traffic. The bot answers through lark-oapi to the
emulator; the page reads the chats back from the emulator."""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
from dataclasses import replace
from datetime import datetime, time, timedelta
from importlib import resources
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import BotApp, build_app
from bot.clock import OffsetClock
from bot.config import Settings
from bot.devtools.emulator import FeishuEmulator
from bot.transport.crypto import encrypt, signature
from storage import db
from storage.org import (
    SANDBOX_SOURCE,
    ChatEntry,
    MemberEntry,
    TeamFile,
    apply_team,
    real_team_reason,
)
from storage.tasks import ensure_periodic_tasks

log = logging.getLogger("dutybot.sandbox")

BOT_OPEN_ID = "ou_dutybot"
TEAM_CHAT = "oc_sandbox_team"
DEMO_TEAM = TeamFile(
    members=(
        MemberEntry("ou_zhou", "周敏 (总监)", "director", admin=True),
        MemberEntry("ou_li", "李娜 (经理)", "manager", admin=True),
        MemberEntry("ou_wang", "王磊 (策划)", "planner"),
        MemberEntry("ou_chen", "陈静 (品牌)", "brand"),
        MemberEntry("ou_zhao", "赵阳 (数字营销)", "digital"),
        MemberEntry("ou_sun", "孙悦 (调研)", "research"),
        MemberEntry("ou_wu", "吴昊 (客户关系)", "crm"),
    ),
    chats=(ChatEntry(TEAM_CHAT, "市场部 Marketing", team=True),),
)


NEWCOMER = "ou_liu"  # in the emulator's directory, not in the team: the import card's case
DEMO_IDS = frozenset(m.open_id for m in DEMO_TEAM.members) | {NEWCOMER}


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) or "localhost"."""
    if host == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return (mapped or addr).is_loopback


class SandboxRefused(Exception):
    """The database holds a real team: the sandbox would deactivate it and add demo admins."""


async def check_database(url: str) -> None:
    """Refuse (SandboxRefused) a database that holds a real team; an empty or new one is fine."""
    from sqlmodel.ext.asyncio.session import AsyncSession

    engine = db.make_engine(url)
    try:
        if await db.current_revision(engine) is None:
            return  # no schema yet: a new database
        async with AsyncSession(engine) as session:
            reason = await real_team_reason(session, DEMO_IDS)
    except Exception as exc:  # noqa: BLE001 - unreadable: not provably a sandbox database
        reason = f"its team cannot be read ({type(exc).__name__})"
    finally:
        await engine.dispose()
    if reason:
        raise SandboxRefused(reason)


def p2p_chat(open_id: str) -> str:
    return f"oc_p2p_{open_id}"


class Sandbox:
    """Owns the emulator, the bot and the page's API. `start()` then serve `web_app()`."""

    def __init__(self, settings: Settings, clock: OffsetClock | None = None) -> None:
        self.clock = clock or OffsetClock()
        self.emulator = FeishuEmulator(
            app_id="cli_sandbox",
            app_secret=secrets.token_hex(16),
            bot_open_id=BOT_OPEN_ID,
            clock=self.clock,
        )
        self.base_settings = settings
        self.bot: BotApp | None = None
        self.webhook_url = f"http://{settings.host}:{settings.port}/feishu/events"
        self._http: aiohttp.ClientSession | None = None

    async def build(self) -> BotApp:
        """The bot wired to the sandbox's emulator, not started: entering it (or `start()`)
        loads the demo team before the workers and the scheduler run. Raises SandboxRefused,
        before anything is written, on a database that holds a real team."""
        await check_database(self.base_settings.database_url)
        domain = self.emulator.start()
        settings = replace(
            self.base_settings,
            app_id=self.emulator.app_id,
            app_secret=self.emulator.app_secret,
            verification_token=secrets.token_hex(12),
            encrypt_key=secrets.token_hex(16),
            domain=domain,
        )
        bot = build_app(settings, clock=self.clock, workers=True, scheduler=True)
        bot.on_ready.append(self._demo)
        self.bot = bot
        self._http = aiohttp.ClientSession()
        return bot

    async def start(self) -> BotApp:
        """Build and start (workers, scheduler, demo team)."""
        bot = await self.build()
        await bot.start()
        return bot

    async def _demo(self, bot: BotApp) -> None:
        now = self.clock.now()
        async with bot.sessions() as session:
            await apply_team(session, DEMO_TEAM, now, source=SANDBOX_SOURCE)
            await session.flush()
            await ensure_periodic_tasks(session, bot.policy, bot.calendar, bot.settings.tz, now)
            await session.commit()
        for member in DEMO_TEAM.members:
            self.emulator.set_p2p_chat(member.open_id, p2p_chat(member.open_id))
            # the directory behind "导入本群成员": job titles are the roles' names
            title = bot.policy.roles[member.role].name_zh
            self.emulator.add_user(member.open_id, member.name, job_title=title)
        self.emulator.add_user(NEWCOMER, "刘洋 (实习生)", job_title="实习生")  # needs a role
        self.emulator.set_chat_members(
            TEAM_CHAT, [m.open_id for m in DEMO_TEAM.members] + [NEWCOMER]
        )
        await self._demo_activity(bot)

    async def _demo_activity(self, bot: BotApp) -> None:
        """A demo activity five weeks out, so its task chain shows up on day one."""
        from sqlmodel import select

        from bot.domain.activities import ActivityInput
        from bot.services.activities import create_activity
        from storage.models import Activity

        today = self.clock.now().astimezone(bot.settings.tz).date()
        async with bot.sessions() as session:
            if (await session.exec(select(Activity))).first() is not None:
                return
            day = today + timedelta(days=35)
            await create_activity(
                session,
                bot.services,
                self.clock.now(),
                ActivityInput(
                    title="新品发布会 Product launch",
                    start=day,
                    end=day,
                    owner_open_id="ou_wang",
                    budget=200000,
                    mode="offline",
                    expected_attendance=150,
                ),
                created_by="ou_li",
                announce=False,
            )
            await session.commit()

    async def stop(self) -> None:
        if self._http:
            await self._http.close()
        self.emulator.stop()

    # -- turning page actions into signed Feishu requests ----------------------------
    async def _deliver(self, payload: dict) -> tuple[int, Any]:
        assert self.bot is not None and self._http is not None
        keys = self.bot.settings
        body = json.dumps(
            {"encrypt": encrypt(keys.encrypt_key, json.dumps(payload, ensure_ascii=False).encode())}
        ).encode()
        ts, nonce = str(int(self.clock.now().timestamp())), secrets.token_hex(8)
        headers = {
            "Content-Type": "application/json",
            "X-Lark-Request-Timestamp": ts,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature(ts, nonce, keys.encrypt_key, body),
        }
        async with self._http.post(self.webhook_url, data=body, headers=headers) as resp:
            return resp.status, await resp.json(content_type=None)

    def _header(self, event_type: str) -> dict:
        return {
            "event_id": secrets.token_hex(16),
            "token": self.bot.settings.verification_token,
            "create_time": str(int(self.clock.now().timestamp() * 1000)),
            "event_type": event_type,
            "tenant_key": "sandbox",
            "app_id": self.emulator.app_id,
        }

    def _member(self, open_id: str) -> MemberEntry | None:
        return next((m for m in DEMO_TEAM.members if m.open_id == open_id), None)

    async def say(self, sender: str, chat_id: str, text: str) -> dict:
        member = self._member(sender)
        if member is None:
            raise web.HTTPBadRequest(text="unknown member")
        group = chat_id == TEAM_CHAT
        mentions = []
        if group:  # in the group, every message from the page @-mentions the bot
            text = "@_user_1 " + text
            mentions = [
                {
                    "key": "@_user_1",
                    "id": {"open_id": BOT_OPEN_ID},
                    "name": "DutyBot",
                    "tenant_key": "sandbox",
                }
            ]
        message_id = "om_" + secrets.token_hex(12)
        payload = {
            "schema": "2.0",
            "header": self._header("im.message.receive_v1"),
            "event": {
                "sender": {
                    "sender_id": {"open_id": sender},
                    "sender_type": "user",
                    "tenant_key": "sandbox",
                },
                "message": {
                    "message_id": message_id,
                    "create_time": str(int(self.clock.now().timestamp() * 1000)),
                    "chat_id": chat_id,
                    "chat_type": "group" if group else "p2p",
                    "message_type": "text",
                    "content": json.dumps({"text": text}, ensure_ascii=False),
                    "mentions": mentions,
                },
            },
        }
        self.emulator.register_event(payload)
        status, _ = await self._deliver(payload)
        return {"status": status, "message_id": message_id}

    async def click(
        self, operator: str, message_id: str, value: dict, form_value: dict | None, name: str
    ) -> dict:
        message = self.emulator.find_message(message_id)
        if message is None or self._member(operator) is None:
            raise web.HTTPBadRequest(text="unknown message or member")
        action: dict[str, Any] = {
            "value": value,
            "tag": "button",
            "name": name,
            "timezone": "Asia/Shanghai",
        }
        if form_value is not None:
            action["form_value"] = form_value
        payload = {
            "schema": "2.0",
            "header": self._header("card.action.trigger"),
            "event": {
                "operator": {"open_id": operator, "tenant_key": "sandbox"},
                "token": self.emulator.issue_callback_token(message_id),
                "action": action,
                "host": "im_message",
                "context": {"open_message_id": message_id, "open_chat_id": message.chat_id},
            },
        }
        status, answer = await self._deliver(payload)
        answer = answer if isinstance(answer, dict) else {}
        card = (answer.get("card") or {}).get("data")
        if status == 200 and isinstance(card, dict):
            self.emulator.apply_callback_card(message_id, card)
        return {"status": status, "toast": answer.get("toast")}

    async def advance(self, step: str) -> str:
        """Move the clock (next working morning, Friday 17:00, +1 h, +1 day) and run one
        scheduler pass so reminders, escalations and digests happen."""
        assert self.bot is not None
        tz = self.bot.settings.tz
        now = self.clock.now().astimezone(tz)
        if step == "hour":
            target = now + timedelta(hours=1)
        elif step == "day":
            target = now + timedelta(days=1)
        elif step == "morning":
            day = self.bot.calendar.next_workday(now.date() + timedelta(days=1))
            target = datetime.combine(day, time(9, 35), tz)
        elif step == "friday":
            days = (4 - now.weekday()) % 7 or (7 if now.time() >= time(17, 5) else 0)
            target = datetime.combine(now.date() + timedelta(days=days), time(17, 5), tz)
        else:
            raise web.HTTPBadRequest(text="unknown clock step")
        self.clock.set(target)
        await self.tick()
        return self.clock.now().astimezone(tz).isoformat(timespec="minutes")

    async def tick(self) -> None:
        try:
            from bot.jobs.scheduler import run_tick
        except ImportError:
            return
        await run_tick(self.bot, self.clock.now())
        self.bot.wake_outbox()

    # -- the page's API -------------------------------------------------------------
    def state(self) -> dict:
        assert self.bot is not None
        policy = self.bot.policy
        return {
            "now": self.clock.now().astimezone(self.bot.settings.tz).isoformat(timespec="minutes"),
            "bot": {"open_id": BOT_OPEN_ID, "name": "DutyBot"},
            "members": [
                {
                    "open_id": m.open_id,
                    "name": m.name,
                    "role": policy.roles[m.role].name_zh,
                    "role_en": policy.roles[m.role].name_en,
                }
                for m in DEMO_TEAM.members
            ],
            "team_chat": {"chat_id": TEAM_CHAT, "name": DEMO_TEAM.chats[0].name},
        }

    def messages(self, chat_id: str) -> list[dict]:
        names = {m.open_id: m.name for m in DEMO_TEAM.members}
        out = []
        for m in self.emulator.chat_log(chat_id):
            text = (
                m.content.get("text")
                if isinstance(m.content, dict) and m.msg_type == "text"
                else None
            )
            if m.incoming and text:
                text = text.replace("@_user_1 ", "", 1)
            out.append(
                {
                    "id": m.message_id,
                    "from": "user" if m.incoming else "bot",
                    "sender": m.sender_open_id or BOT_OPEN_ID,
                    "sender_name": names.get(m.sender_open_id or "", "DutyBot"),
                    "time": m.create_time,
                    "type": m.msg_type,
                    "text": text,
                    "card": m.card,
                    "reply_to": m.parent_id,
                    "version": len(m.updates),
                }
            )
        return out

    def install(self, app: web.Application) -> None:
        """Add the page and its API to the bot's web application. The API has no
        authentication (anyone who reaches it can act as anyone), so it answers loopback
        peers only: 403 for anyone else, whatever address the server listens on."""
        static = resources.files("bot.devtools.sandbox") / "static"

        @web.middleware
        async def loopback_only(request: web.Request, handler):
            if not is_loopback(request.remote):
                raise web.HTTPForbidden(text="the sandbox answers this computer only (loopback)")
            return await handler(request)

        app.middlewares.append(loopback_only)

        async def index(request: web.Request) -> web.Response:
            return web.Response(
                text=(static / "index.html").read_text(encoding="utf-8"), content_type="text/html"
            )

        async def asset(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            if name not in ("app.js", "style.css"):
                raise web.HTTPNotFound()
            kind = "application/javascript" if name.endswith(".js") else "text/css"
            return web.Response(text=(static / name).read_text(encoding="utf-8"), content_type=kind)

        async def api_state(request: web.Request) -> web.Response:
            return web.json_response(self.state())

        async def api_messages(request: web.Request) -> web.Response:
            return web.json_response({"items": self.messages(request.query.get("chat", ""))})

        async def api_say(request: web.Request) -> web.Response:
            body = await request.json()
            text = str(body.get("text") or "").strip()
            if not text:
                raise web.HTTPBadRequest(text="empty message")
            return web.json_response(
                await self.say(str(body.get("as")), str(body.get("chat")), text[:4000])
            )

        async def api_click(request: web.Request) -> web.Response:
            body = await request.json()
            value = body.get("value")
            if not isinstance(value, dict):
                raise web.HTTPBadRequest(text="value must be an object")
            form = body.get("form_value")
            return web.json_response(
                await self.click(
                    str(body.get("as")),
                    str(body.get("message_id")),
                    value,
                    form if isinstance(form, dict) else None,
                    str(body.get("name") or ""),
                )
            )

        async def api_clock(request: web.Request) -> web.Response:
            body = await request.json()
            return web.json_response({"now": await self.advance(str(body.get("step")))})

        app.router.add_get("/", index)
        app.router.add_get("/static/{name}", asset)
        app.router.add_get("/sandbox/api/state", api_state)
        app.router.add_get("/sandbox/api/messages", api_messages)
        app.router.add_post("/sandbox/api/say", api_say)
        app.router.add_post("/sandbox/api/click", api_click)
        app.router.add_post("/sandbox/api/clock", api_clock)
