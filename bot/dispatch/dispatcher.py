"""From a stored or inline event to its one handler: typed event, router, context.

Two entry points, one per delivery mode Feishu has:
- `handle_stored`: events stored in the inbox (messages, bot added, chat entered, …), run
  by the inbox worker inside the transaction that marks the row done;
- `handle_click`: card callbacks, answered inline within Feishu's 3 s (the row was stored
  as done when it arrived: nothing else ever handles a click).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dispatch.context import Ctx, Services
from bot.dispatch.events import (
    CardActionEvent,
    MessageEvent,
    PayloadError,
    message_event,
    typed_event,
)
from bot.dispatch.router import Router
from cards.actions import BadAction
from cards.answers import answer_card, toast
from storage.audit import audit
from storage.cards import button_value, remember_card
from storage.members import get_member
from storage.models import InboundEvent

log = logging.getLogger("dutybot.dispatch")

STALE_CARD = toast(
    "warning",
    "这张卡片已过期，请重新对我说「待办」。",
    "This card is out of date; ask me again.",
)
FAILED = toast("error", "出错了，请稍后再试。", "Something went wrong; please try again.")


class Dispatcher:
    def __init__(
        self,
        router: Router,
        services: Services,
        sessions: async_sessionmaker,
        now: Callable[[], datetime],
        stats: dict[str, int] | None = None,
        click_slots: int = 0,
    ) -> None:
        self.router, self.services, self.sessions, self.now = router, services, sessions, now
        self.stats = stats if stats is not None else {}
        # At most this many clicks handled at once (0: no limit), the others wait their turn
        # in arrival order. On SQLite every click writes, and SQLite has one write lock,
        # whose waiters sleep and retry (1 ms … 100 ms steps): fifty clicks at once wait
        # far longer for it than a few at a time take (bench/clicks.py).
        self._click_slots = asyncio.Semaphore(click_slots) if click_slots > 0 else None

    async def _ctx(
        self, session: AsyncSession, source: str, event, asker: str, lang: str | None
    ) -> Ctx:
        """The middleware: the asker's membership and language, resolved once."""
        member = await get_member(session, asker) if asker else None
        return Ctx(
            session,
            self.now(),
            self.services,
            source=source,
            event=event,
            member=member,
            lang=lang or "zh",
        )

    async def handle_stored(self, session: AsyncSession, row: InboundEvent) -> None:
        """Route one stored event to its handler (called by the inbox worker)."""
        # Signed but malformed events are refused here, at the boundary: handlers only ever
        # see typed events, and a refusal is logged once, never retried.
        try:
            payload = json.loads(row.payload)
            if row.event_type == "im.message.receive_v1":
                event = message_event(payload, self.services.bot_open_id)
            else:
                event = typed_event(row.event_type, payload)
        except (PayloadError, ValueError, RecursionError) as exc:
            self.stats["malformed"] = self.stats.get("malformed", 0) + 1
            log.warning("event %s (%s) refused: %s", row.event_id, row.event_type, exc)
            return
        if event is None:
            log.info("event type %s (%s) is not one we handle", row.event_type, row.event_id)
            return
        if isinstance(event, MessageEvent):
            if event.is_group and not event.mentions_bot:
                return  # in groups we answer only when @-mentioned
            intent = self.router.match_event(event, self.services.policies)
            handler = self.router.message_handler(intent.name)
            if handler is None:
                return
            ctx = await self._ctx(session, row.dedupe_key, event, event.sender_open_id, intent.lang)
            if ctx.member is not None and ctx.member.lang != intent.lang:
                ctx.member.lang = intent.lang  # remembered for cards nobody asked for
            await handler(ctx, event, intent)
            return
        handler = self.router.events.get(row.event_type)
        if handler is None:
            log.info("no handler registered for %s (%s)", row.event_type, row.event_id)
            return
        asker = getattr(event, "operator_open_id", "")
        ctx = await self._ctx(session, row.dedupe_key, event, asker, None)
        await handler(ctx, event)

    async def resolve_click(self, event: CardActionEvent):
        """(action class, handler, action) for a click, or the toast that answers it."""
        if "a" not in event.value and event.action_name:
            # Form submit buttons may come back without their value: find the button by
            # name in the card we showed in that message.
            async with self.sessions() as session:
                value = await button_value(session, event.open_message_id, event.action_name)
            if value is not None:
                event = dataclasses.replace(event, value=value)
        found = self.router.action_handler(event.value)
        if found is None:
            return STALE_CARD
        cls, handler = found
        try:
            action = cls.unpack(event.value)
        except BadAction as exc:
            # Tampered, or from a build we no longer speak: refused, and on the audit log.
            log.info("card action refused: %s", exc)
            async with self.sessions() as session:
                audit(
                    session,
                    at=self.now(),
                    action=f"{cls.name.split('.')[0]}.refused",
                    actor=event.operator_open_id,
                    subject=cls.name,
                    what=cls.name,
                    reason=str(exc)[:200],
                    card=event.open_message_id,
                    chat=event.open_chat_id,
                )
                await session.commit()
            return STALE_CARD
        return event, handler, action

    async def handle_click(self, event: CardActionEvent, handler, action, source: str) -> dict:
        """Run a card action's handler in its own transaction; the answer is its result."""
        if self._click_slots is None:
            return await self._handle_click(event, handler, action, source)
        async with self._click_slots:
            return await self._handle_click(event, handler, action, source)

    async def _handle_click(self, event: CardActionEvent, handler, action, source: str) -> dict:
        async with self.sessions() as session:
            ctx = await self._ctx(
                session, source, event, event.operator_open_id, getattr(action, "lang", "")
            )
            try:
                answer = await handler(ctx, event, action)
                card = answer_card(answer)
                if card and event.open_message_id:
                    await remember_card(
                        session,
                        event.open_message_id,
                        json.dumps(card, ensure_ascii=False),
                        ctx.now,
                    )
            except Exception:
                await session.rollback()
                log.exception("card action %s failed", action.name)
                return FAILED
            await session.commit()
        return answer
