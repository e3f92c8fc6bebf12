"""The Feishu Tasks mirror (DUTYBOT_FEISHU_TASKS=on): every task DutyBot assigns also
lives in the assignee's Feishu Tasks, created, completed, re-dated and handed over through
the outbox (durable, retried with its capped backoff, rate-limited, expiring after 30 days
like every "task" row).

- `sync` compares the tasks with what was last queued for them (storage/feishu_tasks.py)
  and queues what differs, whatever wrote the task: org sync and the tick's periodic
  tasks, activities, a mark done, a rejection's new due, a hand-off. The outbox worker
  runs it before a pass when it was woken (an event was handled, a click answered, a tick
  ran), at most once every `min_interval` (5 s), and at least every `every` (60 s).
- `deliver` sends one row (the outbox's `extra_kinds`). A change names its task; its guid
  comes from the create's answer. A change queued before the create succeeded waits
  (retried) until the guid is known; if the create never went through (refused, expired),
  its loss was reported already and the change is dropped without a second report; the
  next start of DutyBot tries such creates again (after the scope was added, say).

Chat answers do not wait for any of it: "task" rows have the lowest priority, share one
outbox lane (a few per pass) and one rate-limit receiver (5 calls a second)."""

from __future__ import annotations

import asyncio
import json
import logging

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.clock import Clock
from bot.feishu.gateway import FeishuError
from bot.feishu.tasks import TASK_GONE, FeishuTasks
from cards.feishu_task import MirroredTask, assignee, create_body, ms
from storage import feishu_tasks as links
from storage.models import Duty, FeishuTaskLink, OutboundMessage, Task, TaskStatus
from storage.outbox import enqueue_many, outbox_row

log = logging.getLogger("dutybot.feishu_tasks")

LANE = "feishu-tasks"
PURPOSE = "task"
KINDS = ("task_create", "task_patch", "task_members", "task_delete")


def _mirrored(task: Task, duty: Duty | None, title: str | None) -> MirroredTask:
    return MirroredTask(
        task_id=task.id or 0,
        duty_key=task.duty_key,
        duty_zh=duty.name_zh if duty else task.duty_key,
        duty_en=duty.name_en if duty else task.duty_key,
        clause=duty.clause if duty else "",
        period_key=task.period_key,
        activity_title=title,
        assignee_open_id=task.assignee_open_id,
        due_at=task.due_at,
    )


def changes(task: Task, link: FeishuTaskLink, now) -> tuple[list[tuple[str, dict]], dict]:
    """The calls that bring Feishu from what `link` says was queued to `task`, and the
    link's new values."""
    tid = task.id or 0
    if task.status in links.COMPLETED:
        body = {
            "task_id": tid,
            "task": {"completed_at": ms(task.done_at or now)},
            "update_fields": ["completed_at"],
        }
        return [("task_patch", body)], {"closed": True}
    if task.status == TaskStatus.CANCELLED:
        return [("task_delete", {"task_id": tid})], {"closed": True}
    calls: list[tuple[str, dict]] = []
    new: dict = {}
    if task.due_at != link.due_at:
        due = {"timestamp": ms(task.due_at), "is_all_day": False}
        calls.append(
            ("task_patch", {"task_id": tid, "task": {"due": due}, "update_fields": ["due"]})
        )
        new["due_at"] = task.due_at
    if link.reopen:  # ticked off in Feishu, but here it still waits for a report
        body = {"task_id": tid, "task": {"completed_at": "0"}, "update_fields": ["completed_at"]}
        calls.append(("task_patch", body))
        new["reopen"] = False
    if task.assignee_open_id != link.assignee_open_id:
        members = {
            "task_id": tid,
            "add": [assignee(task.assignee_open_id)],
            "remove": [assignee(link.assignee_open_id)],
        }
        calls.append(("task_members", members))
        new["assignee_open_id"] = task.assignee_open_id
    return calls, new


class TaskMirror:
    def __init__(
        self,
        sessions: async_sessionmaker,
        tasks: FeishuTasks,
        clock: Clock,
        link: str,
        *,
        batch: int = 200,
        min_interval: float = 5.0,
        every: float = 60.0,
    ) -> None:
        self.sessions, self.tasks, self.clock, self.link = sessions, tasks, clock, link
        self.batch, self.min_interval, self.every = batch, min_interval, every
        self._dirty = True
        self._last = float("-inf")
        self._after = 0  # creates: where the last full batch stopped (0: from the start)
        # On start, creates Feishu refused earlier (a missing scope since fixed) go again.
        self.retry_refused = True
        self.stats = {"created": 0, "changed": 0, "skipped": 0}

    @property
    def kinds(self) -> dict:
        return {kind: self.deliver for kind in KINDS}

    # -- planning -----------------------------------------------------------------------
    def poke(self) -> None:
        """Something may have changed (the outbox worker was woken)."""
        self._dirty = True

    async def maybe_sync(self) -> int:
        """`sync` when poked (at most once a `min_interval`) or every `every` seconds."""
        t = asyncio.get_running_loop().time()
        if t - self._last < (self.min_interval if self._dirty else self.every):
            return 0
        self._dirty, self._last = False, t
        try:
            queued = await self.sync()
        except Exception:  # the mirror must never stop the outbox
            log.exception("Feishu Tasks mirror: planning failed; will retry")
            self._dirty = True
            return 0
        if queued >= self.batch:
            self._dirty = True  # more waits: the next pass continues
        return queued

    async def sync(self) -> int:
        """Queue every call Feishu is owed (up to `batch` creates and `batch` changes)."""
        now = self.clock.now()
        rows: list[dict] = []

        def row(uuid: str, kind: str, body: dict, target: str | None = None) -> None:
            rows.append(
                outbox_row(
                    uuid=uuid,
                    now=now,
                    kind=kind,
                    body=body,
                    msg_type="task",
                    target_uuid=target,
                    purpose=PURPOSE,
                    lane=LANE,
                )
            )

        async with self.sessions() as session:
            if self.retry_refused:
                if again := await links.forget_refused_creates(session):
                    log.info("Feishu Tasks mirror: %d refused create(s) tried again", again)
                self.retry_refused = False
            new = await links.unmirrored(session, self.batch, self._after)
            # A full batch: the next look goes on from here (the initial mirroring of a
            # big team stays linear); a short one: the next look starts over.
            self._after = (new[-1][0].id or 0) if len(new) >= self.batch else 0
            mine = await links.add_links(session, [task for task, _, _ in new], now)
            for task, duty, title in new:
                if task.id in mine:  # else another replica queued it
                    body = create_body(_mirrored(task, duty, title), self.link)
                    row(links.create_uuid(task.id or 0), "task_create", body)
            for link, task in await links.changed(session, self.batch):
                calls, values = changes(task, link, now)
                if not calls or not await links.advance(session, link, len(calls), now, **values):
                    continue
                for i, (kind, body) in enumerate(calls, start=1):
                    target = links.create_uuid(link.task_id)
                    row(f"ft{link.task_id}.{link.seq + i}", kind, body, target)
            await enqueue_many(session, rows)
            await session.commit()
        if rows:
            log.info("Feishu Tasks mirror: %d call(s) queued", len(rows))
        return len(rows)

    # -- sending --------------------------------------------------------------------------
    async def deliver(self, row: OutboundMessage) -> str | None:
        data = json.loads(row.content)
        if row.kind == "task_create":
            guid = await self.tasks.create(data)
            task_id = int(row.uuid[2:].split(".")[0])
            async with self.sessions() as session:
                await links.store_guid(session, task_id, guid, self.clock.now())
                await session.commit()
            self.stats["created"] += 1
            return guid
        guid = await self._guid(data["task_id"], row.uuid)
        if guid is None:
            self.stats["skipped"] += 1
            return None
        try:
            if row.kind == "task_patch":
                await self.tasks.patch(guid, data["task"], data["update_fields"])
            elif row.kind == "task_members":
                await self.tasks.add_members(guid, data["add"])
                await self.tasks.remove_members(guid, data["remove"])
            elif row.kind == "task_delete":
                await self.tasks.delete(guid)
        except FeishuError as e:
            if e.code not in TASK_GONE:
                raise
            # The assignee deleted it in Feishu: their choice, not a failure to report.
            log.info("%s: Feishu task %s was deleted there; mirror stops", row.uuid, guid)
            async with self.sessions() as session:
                await links.set_state(session, data["task_id"], self.clock.now(), closed=True)
                await session.commit()
            self.stats["skipped"] += 1
            return None
        self.stats["changed"] += 1
        return guid

    async def _guid(self, task_id: int, uuid: str) -> str | None:
        """The task's Feishu guid; retried later while its create is still on its way."""
        async with self.sessions() as session:
            guid, status = await links.guid_of(session, task_id)
        if guid:
            return guid
        if status in ("pending", "processing"):
            raise FeishuError(
                -1, f"Feishu task for task {task_id} not created yet", retryable=True, retry_after=2
            )
        log.info("%s dropped: task %d was never created in Feishu (%s)", uuid, task_id, status)
        return None
