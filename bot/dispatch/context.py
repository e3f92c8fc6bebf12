"""What a handler gets: one session, the current instant, the bot's services, the event,
and the asker (member and language) resolved once by the dispatcher.

`Ctx.answer`, `Ctx.send` and `Ctx.patch` are the only way handlers queue messages: each
goes through the outbox with a uuid derived from the inbound event, so a retried event
never sends twice."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Settings
from bot.dispatch.events import CardActionEvent, MessageEvent
from bot.domain.departments import DEFAULT_DEPARTMENT, Policies
from bot.domain.policy import Policy
from bot.domain.workcalendar import WorkCalendar
from cards.elements import plain_text
from cards.i18n import t
from storage.models import Member
from storage.outbox import enqueue_soon


@dataclass
class Services:
    """Long-lived things built once by the composition root.

    `policy` is the policy of `department` (None: the whole deployment, whose `policy` is
    the default department's); `policies` has every department's. Jobs that run per
    department use `for_department(key)`."""

    settings: Settings
    policy: Policy
    calendar: WorkCalendar
    bot_open_id: str | None = None
    directory: Any = None  # bot.feishu.directory.Directory when Feishu is configured
    feishu_tasks: Any = None  # bot.feishu.tasks.FeishuTasks when the Tasks mirror is on
    messages: Any = None  # bot.feishu.messages.MessageReader when Feishu is configured
    policies: Policies = None  # type: ignore[assignment]  # set in __post_init__
    department: str | None = None

    def __post_init__(self) -> None:
        if self.policies is None:
            self.policies = Policies.single(self.policy)

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    def for_department(self, key: str) -> Services:
        """These services as one department sees them: its policy."""
        return replace(self, policy=self.policies.get(key), department=key)

    def view_of(self, department: str | None) -> Services:
        """The services of a task's or member's department (these, without departments)."""
        if self.policies.is_single:
            return self
        return self.for_department(department or DEFAULT_DEPARTMENT)

    def departments(self) -> list[Services]:
        """One view per department the deployment runs; just this one without departments
        (so a deployment with one policy runs exactly as before: no department filters)."""
        if self.policies.is_single:
            return [self]
        return [self.for_department(key) for key in self.policies.keys()]


@dataclass
class Ctx:
    """One handler invocation. Writes go to `session`; the caller commits or rolls back."""

    session: AsyncSession
    now: datetime
    services: Services
    source: str  # the inbound event's dedupe key: makes outbound uuids deterministic
    event: MessageEvent | CardActionEvent | None = None
    member: Member | None = None  # the asker when they are an active member of the team
    lang: str = "zh"  # the asker's language: of their message, or of the card they clicked
    _sent: int = field(default=0, repr=False)

    @property
    def department(self) -> str:
        """The asker's department (resolved with their member), else the services' one."""
        if self.member is not None:
            return getattr(self.member, "department", None) or DEFAULT_DEPARTMENT
        return self.services.department or DEFAULT_DEPARTMENT

    @property
    def policy(self) -> Policy:
        """The policy of the asker's department."""
        if self.member is None and self.services.department is None:
            return self.services.policy
        return self.services.policies.get(self.department)

    @property
    def scope(self) -> str | None:
        """The asker's department as a filter for team-wide reads (rosters, team chats);
        None without departments: everyone, as before."""
        return None if self.services.policies.is_single else self.department

    def scope_of(self, department: str | None) -> str | None:
        """Another department (a member's, a task's) as a filter; None without departments."""
        return None if self.services.policies.is_single else department

    def policy_of(self, department: str | None) -> Policy:
        """The policy of another department (a task's, a report author's)."""
        return self.services.policies.get(department)

    @property
    def tz(self) -> ZoneInfo:
        return self.services.tz

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.tz)

    @property
    def asker(self) -> str:
        """The open_id of whoever wrote the message or clicked the card."""
        if isinstance(self.event, MessageEvent):
            return self.event.sender_open_id
        if isinstance(self.event, CardActionEvent):
            return self.event.operator_open_id
        return ""

    def t(self, zh: str, en: str) -> str:
        return t(self.lang, zh, en)

    def next_uuid(self) -> str:
        """The same inbound event always yields the same uuids, in order (retries never double)."""
        self._sent += 1
        digest = hashlib.sha256(f"{self.source}#{self._sent}".encode()).hexdigest()[:40]
        return f"r{digest}"

    async def answer(
        self, body: dict | str, msg_type: str = "interactive", *, uuid: str | None = None
    ) -> str:
        """Answer the chat message being handled: a reply in a group (so the asker sees it
        is theirs), a plain message in a private chat; a request with no chat (a bot-menu
        click) goes to the asker's private chat by open_id. Returns the outbox uuid."""
        event = self.event
        if not isinstance(event, MessageEvent):
            raise TypeError("ctx.answer answers a chat message; a click returns its answer")
        body = _safe_body(body, msg_type)
        uuid = uuid or self.next_uuid()
        if not event.chat_id:
            return await self.send("open_id", event.sender_open_id, body, msg_type, uuid=uuid)
        if event.is_group:
            await enqueue_soon(
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
            await enqueue_soon(
                self.session,
                uuid=uuid,
                now=self.now,
                kind="send",
                purpose="answer",
                body=body,
                msg_type=msg_type,
                receive_id_type="chat_id",
                receive_id=event.chat_id,
                # a private chat is not in the team's chats: the asker says whose it is
                department=getattr(self.member, "department", None),
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
        body = _safe_body(body, msg_type)
        uuid = uuid or self.next_uuid()
        await enqueue_soon(
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

    async def patch(
        self, target_uuid: str | None, body: dict, *, message_id: str | None = None
    ) -> None:
        """Replace, in place, a card we sent earlier, named by its outbox uuid (or by its
        Feishu message id); no-op when there is none."""
        if not target_uuid and not message_id:
            return
        await enqueue_soon(
            self.session,
            uuid=self.next_uuid(),
            now=self.now,
            kind="patch",
            body=body,
            target_uuid=target_uuid,
            target_message_id=None if target_uuid else message_id,
        )


def _safe_body(body: dict | str, msg_type: str) -> dict | str:
    """A text message is plain text: Feishu would render any <at …> tag in it (a name or a
    report field pinging everyone), so the whole text goes through the one escaping
    function. The bot never @-mentions in text messages."""
    if msg_type == "text" and isinstance(body, str):
        return plain_text(body)
    return body
