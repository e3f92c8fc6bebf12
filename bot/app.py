"""The composition root: builds every long-lived object once and wires them together.

Lean by construction: what only serving needs (the handlers and their router, the
dispatcher, the inbox worker, webhook verification with its crypto, callback answers) is
imported and built on first use, so `dutybot tick` composes the same `BotApp` from clock,
settings, storage, policy, calendar, jobs and delivery alone (docs/design.md, "The tick's
lean path"; tests/test_lean_tick.py keeps it so)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.delivery.ingest import IngestBatcher
from bot.delivery.outbox import InlineAnswers, OutboxWorker
from bot.dispatch.context import Services
from bot.domain.policy import Policy, load_policy
from bot.domain.workcalendar import WorkCalendar
from bot.logs import add_secret
from storage import db
from storage.departments import departments_version, load_policies
from storage.inbox import event_row, purge_old
from storage.outbox import enqueue
from storage.policy_sync import sync_policy
from storage.tasks import ensure_all_periodic_tasks

if TYPE_CHECKING:  # pragma: no cover
    from bot.delivery.inbox import InboxWorker
    from bot.dispatch.dispatcher import Dispatcher
    from bot.dispatch.router import Router
    from bot.transport.ingress import Envelope, WebhookKeys

log = logging.getLogger("dutybot")

CALLBACK_BUDGET = 2.5  # seconds; Feishu shows error 200341 after 3 s and never re-pushes
SQLITE_CLICK_SLOTS = 4  # clicks handled at once on SQLite (bot.dispatch.dispatcher.Dispatcher)


def build_router() -> Router:
    """All handlers; registration order is priority. Imported here, on first use: a tick
    never routes a message."""
    from bot.dispatch.router import Router
    from handlers import (
        activities,
        admin,
        digests,
        feishu_tasks,
        menu,
        messages,
        people,
        reports,
        sla,
        tasks,
        team_import,
    )

    # Reports and activities first: their phrases ("提交周报", "新建活动") are more specific
    # than the broad "what's due" words in messages.router.
    return Router(name="root").include(
        sla.router,  # "咨询：…" / "投诉：…" and forwards: matched before any keyword
        team_import.router,  # "导入本群成员" before any broader word
        reports.router,
        activities.router,
        tasks.router,
        admin.router,
        digests.router,  # before messages: "本周汇总" is not "本周" (this week's tasks)
        messages.router,
        menu.router,  # the bot menu: no keywords, one event type
        people.router,  # people leave or change role: contact events, the hand-off card
        feishu_tasks.router,  # a mirrored task ticked off or deleted in Feishu Tasks
    )


async def chase_approvals(sessions, services, now: datetime) -> None:
    """The scheduler's approvals step (`handlers.reports.routing.tick_step`). The reports
    handlers and their cards are imported only when some report waits for a decision: with
    none, the step would do nothing, and the tick stays lean."""
    from storage.reports import pending_reports

    async with sessions() as session:
        if not await pending_reports(session, limit=1):
            return
    from handlers.reports import routing

    await routing.tick_step(sessions, services, now)


def settle_heap() -> None:
    """Once started: collect, then move every object alive now (modules, SQLAlchemy's and
    lark-oapi's tables: ~150,000 objects) out of the collector's reach. A full collection
    otherwise walks them all, 100–370 ms with the event loop stopped, a few times a
    minute during a fan-out (bench/fanout.py). Later objects are collected as before."""
    gc.collect()
    gc.freeze()


@dataclass
class BotApp:
    """The running bot. `async with app:` prepares the database and the policy, connects to
    Feishu, runs `on_ready` hooks (e.g. the sandbox's demo team), then starts what was asked
    for: the inbox and outbox workers, the scheduler (with housekeeping), a transport.
    Leaving stops them in reverse order and closes the database.

    `router`, `dispatcher`, `inbox` and `keys` are built on first use (the first event,
    click or frame): a tick never uses them, so it never imports the handlers."""

    settings: Settings
    clock: Clock
    policy: Policy
    calendar: WorkCalendar
    gateway: object | None = None  # FeishuGateway when credentials are configured
    connect: bool = True  # ask Feishu who we are on start (`tick` connects only to send)
    workers: bool = False  # run the inbox/outbox workers (off: tests and `tick` drain them)
    scheduler: bool = False  # run the minute scheduler and the ten-minute housekeeping
    transport: Any = None  # a transport with start()/stop() (the long connection), if any
    on_ready: list[Callable[[BotApp], Awaitable[None]]] = field(default_factory=list)
    # Extra scheduler steps, (name, async fn(sessions, services, now)), run after digests.
    tick_steps: list[tuple[str, Callable]] = field(
        default_factory=lambda: [("approvals", chase_approvals)]
    )

    def __post_init__(self) -> None:
        self.engine = db.make_engine(self.settings.database_url)
        self.sessions = db.make_session_factory(self.engine)
        self.ingest = IngestBatcher(self.engine)
        self.services = Services(self.settings, self.policy, self.calendar)
        if self.gateway is not None:
            from bot.feishu.directory import Directory
            from bot.feishu.messages import MessageReader

            self.services.directory = Directory(self.gateway)
            self.services.messages = MessageReader(self.gateway)  # merged forwards' messages
            self._share_limits()
        self.max_age = timedelta(hours=self.settings.event_max_age_hours)
        self.signature_tolerance = timedelta(hours=self.settings.signature_tolerance_hours)
        self.stats = {"received": 0, "duplicates": 0, "rejected": 0, "stale": 0, "callbacks": 0}
        self.stats["malformed"] = 0
        self.answering = InlineAnswers()  # card callbacks being answered: the outbox waits
        self.outbox = (
            OutboxWorker(self.sessions, self.gateway, self.clock, answers=self.answering)
            if self.gateway
            else None
        )
        self.task_mirror = None
        if self.outbox is not None and self.settings.feishu_tasks:
            self.task_mirror = self._task_mirror()
            self.outbox.mirror = self.task_mirror
            self.outbox.extra_kinds.update(self.task_mirror.kinds)
            self.services.feishu_tasks = self.task_mirror.tasks  # reads tasks back
        self._background: set[asyncio.Task] = set()
        self._scheduler = None
        self._maintenance: asyncio.Task | None = None

    @cached_property
    def router(self) -> Router:
        """Every handler (`build_router`); tests may add to it before the first event."""
        return build_router()

    @cached_property
    def dispatcher(self) -> Dispatcher:
        from bot.dispatch.dispatcher import Dispatcher

        return Dispatcher(
            self.router,
            self.services,
            self.sessions,
            self.clock.now,
            self.stats,
            click_slots=SQLITE_CLICK_SLOTS if self.settings.is_sqlite else 0,
        )

    @cached_property
    def inbox(self) -> InboxWorker:
        from bot.delivery.inbox import InboxWorker

        return InboxWorker(
            self.sessions, self.dispatcher.handle_stored, self.clock, after=self.wake_outbox
        )

    @cached_property
    def keys(self) -> WebhookKeys:
        """The webhook's verification token and encryption key (crypto loads with them)."""
        from bot.transport.ingress import WebhookKeys

        return WebhookKeys(self.settings.verification_token, self.settings.encrypt_key)

    def _task_mirror(self):
        """The Feishu Tasks mirror (DUTYBOT_FEISHU_TASKS=on), run by the outbox worker."""
        from bot.delivery.feishu_tasks import TaskMirror
        from bot.feishu.tasks import FeishuTasks
        from cards.feishu_task import bot_link

        link = bot_link(self.settings.domain, self.settings.app_id)
        return TaskMirror(self.sessions, FeishuTasks(self.gateway), self.clock, link)

    # -- life cycle -------------------------------------------------------------------
    async def __aenter__(self) -> BotApp:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.prepare()
        if self.connect:
            await self.connect_feishu()
        for hook in self.on_ready:
            await hook(self)
        if self.workers:
            self.start_workers()
        if self.scheduler:
            from bot.jobs.scheduler import Scheduler

            self._scheduler = Scheduler(self)
            self._scheduler.start()
            self._maintenance = asyncio.create_task(self._maintain(), name="maintenance")
        if self.transport is not None:
            self.transport.start()

    async def prepare(self) -> None:
        """Schema, policy and the periodic tasks of the current and next period. Replicas
        starting together may race on the policy rows: a lost race is retried."""
        await db.ensure_schema(self.engine, auto_upgrade=self.settings.is_sqlite)
        for attempt in range(3):
            try:
                await self._prepare_once()
                return
            except DBAPIError:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))

    async def _prepare_once(self) -> None:
        async with self.sessions() as session:
            now = self.clock.now()
            policies = await load_policies(session, self.policy)
            self._departments_seen = await departments_version(session)
            self.services.policies = policies
            changes = []
            for dept in policies:
                changes += await sync_policy(session, dept.policy, now, dept.key)
            if changes:
                log.info(
                    "policy loaded: %d change(s), e.g. %s", len(changes), "; ".join(changes[:3])
                )
            if not policies.is_single:
                log.info("departments: %s", ", ".join(policies.keys()))
            created = await ensure_all_periodic_tasks(
                session, policies, self.calendar, self.settings.tz, now
            )
            await session.commit()
        if created:
            log.info("created %d periodic tasks", created)

    async def refresh_departments(self) -> bool:
        """Pick up departments an `org sync` added, changed or removed since we loaded them
        (the scheduler asks every tick; one small read). True if they changed."""
        async with self.sessions() as session:
            seen = await departments_version(session)
            if seen == getattr(self, "_departments_seen", None):
                return False
            self.services.policies = await load_policies(session, self.policy)
            self._departments_seen = seen
        log.info("departments reloaded: %s", ", ".join(self.services.policies.keys()))
        return True

    async def connect_feishu(self) -> None:
        """Fetch a token and the bot's own open_id; failures are logged, not fatal."""
        if not self.gateway:
            return
        try:
            info = await self.gateway.bot_info()
        except Exception as exc:
            log.error(
                "cannot reach Feishu at %s yet (%s); messages wait in the outbox",
                self.settings.domain,
                exc,
            )
            return
        self.services.bot_open_id = info.open_id or None
        log.info("connected to Feishu as %s (%s)", info.app_name or "the bot", info.open_id)

    def start_workers(self) -> None:
        if self.gateway is not None:
            self.gateway.warm()
        self.inbox.start()  # (builds the router: every handler is imported by now)
        if self.outbox:
            self.outbox.start()
        settle_heap()

    async def _maintain(self) -> None:
        """Every minute: reconnect to Feishu if the first try failed; every 10 minutes:
        forget old de-duplication records."""
        minute = 0
        while True:
            await asyncio.sleep(60)
            minute += 1
            try:
                if self.gateway and self.services.bot_open_id is None:
                    await self.connect_feishu()
                if minute % 10 == 0:
                    await self.housekeeping()
            except Exception:
                log.exception("maintenance pass failed")

    async def stop(self) -> None:
        """Stop taking work, let in-flight passes finish, close the database."""
        if self.transport is not None:
            await self.transport.stop()
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
        if self._scheduler is not None:
            await self._scheduler.stop()
        if self._background:
            await asyncio.wait(self._background, timeout=5)
        if "inbox" in self.__dict__:  # built: it may be running
            await self.inbox.stop()
        if self.outbox:
            await self.outbox.stop()
        if self.gateway is not None:
            await self.gateway.close()
        await self.ingest.close()
        await self.engine.dispose()

    def wake_outbox(self) -> None:
        if self.outbox:
            self.outbox.wake()

    def _track(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- ingress ----------------------------------------------------------------------
    async def accept(self, env: Envelope, *, handled_inline: bool = False) -> bool:
        """Store a verified event once (stale ones as dropped, inline-answered clicks as
        done, so the inbox worker never sees them); True when it is new and current."""
        status = "dropped" if env.stale else "done" if handled_inline else "pending"
        new = await self.ingest.submit(
            event_row(
                dedupe_key=env.dedupe_key,
                event_id=env.event_id,
                event_type=env.event_type,
                payload=env.text,
                event_created_at=env.created_at,
                now=self.clock.now(),
                status=status,
            )
        )
        self.stats["received"] += 1
        if not new:
            self.stats["duplicates"] += 1
            log.info("duplicate %s %s ignored", env.event_type, env.dedupe_key)
        elif env.stale:
            self.stats["stale"] += 1
            log.info(
                "stale %s %s from %s dropped",
                env.event_type,
                env.event_id,
                env.created_at.isoformat(),
            )
        elif not handled_inline:
            self.inbox.wake()
        return new and not env.stale

    async def callback(self, env: Envelope) -> dict:
        """Answer a card callback within the 3 s budget. The click is stored (de-duplicated
        by event_id) as already handled: this inline answer is its only handling."""
        self.stats["callbacks"] += 1
        with self.answering:
            return await self._callback(env)

    async def _callback(self, env: Envelope) -> dict:
        from bot.dispatch.events import PayloadError, card_action_event
        from cards.answers import toast

        if not await self.accept(env, handled_inline=True):
            return {}
        try:
            event = card_action_event(env.payload)
        except PayloadError:
            return toast("error", "无法识别这次点击。", "This click could not be read.")
        found = await self.dispatcher.resolve_click(event)
        if isinstance(found, dict):
            return found
        event, handler, action = found
        work = asyncio.ensure_future(
            self.dispatcher.handle_click(event, handler, action, env.dedupe_key)
        )
        work.add_done_callback(lambda _: self.wake_outbox())
        try:
            return await asyncio.wait_for(asyncio.shield(work), CALLBACK_BUDGET)
        except TimeoutError:
            # Too slow to answer inline: finish in the background and update the card with
            # the delayed-update token, after this answer (Feishu requires that order).
            self._track(self._finish_late(work, event))
            return toast("info", "正在处理…", "Working on it…")

    async def _finish_late(self, work: asyncio.Future, event) -> None:
        from cards.answers import answer_card

        card = answer_card(await work)
        if card and event.token:
            async with self.sessions() as session:
                await enqueue(
                    session,
                    uuid="cu" + hashlib.sha256(event.event_id.encode()).hexdigest()[:40],
                    now=self.clock.now(),
                    kind="card_update",
                    body={"token": event.token, "card": card},
                    target_message_id=event.open_message_id or None,
                )
                await session.commit()
            self.wake_outbox()

    async def handle_plain(self, payload: bytes) -> dict | None:
        """One frame from the long connection: plaintext JSON inside an authenticated
        channel, then exactly the webhook's path (de-duplication, routing, handlers)."""
        from bot.transport.ingress import Envelope, WebhookKeys, parse_request

        result = parse_request(payload, {}, WebhookKeys(), self.clock.now(), self.max_age)
        if not isinstance(result, Envelope):
            self.stats["rejected"] += 1
            log.warning(
                "long connection: ignored a frame (%s)", getattr(result, "reason", "challenge")
            )
            return None
        if result.is_callback and not result.stale:
            return await self.callback(result)
        await self.accept(result)
        return None

    def _share_limits(self) -> None:
        """On PostgreSQL every replica draws Feishu's rate limits from the same buckets."""
        limits = getattr(self.gateway, "limits", None)
        if self.settings.is_sqlite or limits is None:
            return
        from storage.rate_limits import Bucket, reserve

        engine = self.engine

        async def shared(specs, count: int):
            return await reserve(engine, [Bucket(*spec) for spec in specs], count)

        limits.shared = shared

    async def housekeeping(self) -> None:
        """Forget de-duplication records older than the keep window, and idle rate buckets."""
        async with self.sessions() as session:
            removed = await purge_old(
                session, self.clock.now(), timedelta(hours=self.settings.dedupe_keep_hours)
            )
            await session.commit()
        if removed:
            log.info("purged %d old inbox rows", removed)
        if not self.settings.is_sqlite:
            from storage.rate_limits import prune

            await prune(self.engine)

    async def database_ok(self) -> bool:
        return await db.ping(self.engine)


def build_app(
    settings: Settings,
    clock: Clock | None = None,
    gateway: object | None = None,
    *,
    workers: bool = False,
    scheduler: bool = False,
) -> BotApp:
    """Build the bot from settings (nothing runs until `async with` / `start()`). A gateway
    is created when credentials are configured."""
    clock = clock or SystemClock()
    for secret in (settings.app_secret, settings.encrypt_key, settings.verification_token):
        add_secret(secret)  # never logged, at any level
    policy = load_policy(settings.policy_path)
    calendar = WorkCalendar.from_file(settings.calendar_path)
    if gateway is None and settings.has_credentials:
        from bot.feishu.gateway import FeishuGateway

        gateway = FeishuGateway(settings.domain, settings.app_id, settings.app_secret, clock)
    return BotApp(
        settings=settings,
        clock=clock,
        policy=policy,
        calendar=calendar,
        gateway=gateway,
        workers=workers,
        scheduler=scheduler,
    )
