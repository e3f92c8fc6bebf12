"""What a handler gets: one session, the current instant, and the bot's services."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Settings
from bot.dispatch.events import MessageEvent
from bot.domain.policy import Policy
from bot.domain.workcalendar import WorkCalendar
from storage.outbox import enqueue


@dataclass
class Services:
    """Long-lived things built once by the composition root."""

    settings: Settings
    policy: Policy
    calendar: WorkCalendar
    bot_open_id: str | None = None
    directory: Any = None  # bot.feishu.directory.Directory when Feishu is configured

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz


@dataclass
class Ctx:
    """One handler invocation. Writes go to `session`; the caller commits or rolls back."""

    session: AsyncSession
    now: datetime
    services: Services
    source: str  # the inbound event's dedupe key: makes outbound uuids deterministic
    _sent: int = field(default=0, repr=False)

    @property
    def policy(self) -> Policy:
        return self.services.policy

    @property
    def tz(self) -> ZoneInfo:
        return self.services.tz

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.tz)

    def next_uuid(self) -> str:
        """The same inbound event always yields the same uuids, in order (retries never double)."""
        self._sent += 1
        digest = hashlib.sha256(f"{self.source}#{self._sent}".encode()).hexdigest()[:40]
        return f"r{digest}"

    async def answer(
        self,
        event: MessageEvent,
        body: dict | str,
        msg_type: str = "interactive",
        *,
        uuid: str | None = None,
    ) -> str:
        """Answer a chat message: a reply in a group (so the asker sees it is theirs), a plain
        message in a private chat; a request with no chat (a bot-menu click) goes to the
        asker's private chat by open_id. Returns the outbox uuid (to patch the card later)."""
        uuid = uuid or self.next_uuid()
        if not event.chat_id:
            return await self.send("open_id", event.sender_open_id, body, msg_type, uuid=uuid)
        if event.is_group:
            await enqueue(
                self.session,
                uuid=uuid,
                now=self.now,
                kind="reply",
                purpose="answer",
                body=body,
                msg_type=msg_type,
                receive_id=event.chat_id,
                target_message_id=event.message_id,
            )
        else:
            await enqueue(
                self.session,
                uuid=uuid,
                now=self.now,
                kind="send",
                purpose="answer",
                body=body,
                msg_type=msg_type,
                receive_id_type="chat_id",
                receive_id=event.chat_id,
            )
        return uuid

    async def send(
        self,
        receive_id_type: str,
        receive_id: str,
        body: dict | str,
        msg_type: str = "interactive",
        *,
        uuid: str | None = None,
    ) -> str:
        """Queue a new message to a user (open_id) or chat (chat_id); returns its outbox uuid."""
        uuid = uuid or self.next_uuid()
        await enqueue(
            self.session,
            uuid=uuid,
            now=self.now,
            kind="send",
            body=body,
            msg_type=msg_type,
            receive_id_type=receive_id_type,
            receive_id=receive_id,
        )
        return uuid

    async def patch(self, target_uuid: str, body: dict) -> None:
        """Replace, in place, a card we sent earlier (identified by its outbox uuid)."""
        await enqueue(
            self.session,
            uuid=self.next_uuid(),
            now=self.now,
            kind="patch",
            body=body,
            target_uuid=target_uuid,
        )
