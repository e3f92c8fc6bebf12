"""Helpers for the activity, scheduler and digest tests (issue #4)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, update
from sqlmodel import col, select

from bot.dispatch.context import Services
from bot.domain.activities import ActivityInput
from bot.services.activities import create_activity
from storage.models import Leave, Marker, OutboundMessage, Task, TaskStatus

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    """A Shanghai wall-clock instant."""
    return datetime(y, m, d, h, mi, tzinfo=SH)


async def clear_tasks(bot) -> None:
    """Remove every task (and markers), so a test controls exactly what is due."""
    async with bot.sessions() as s:
        await s.exec(delete(Task))
        await s.exec(delete(Marker))
        await s.commit()


async def add_task(
    bot,
    duty_key: str,
    assignee: str,
    due: datetime,
    *,
    status: str = TaskStatus.OPEN,
    period_key: str | None = None,
    activity_id: int | None = None,
    done_at: datetime | None = None,
) -> Task:
    async with bot.sessions() as s:
        task = Task(
            duty_key=duty_key,
            assignee_open_id=assignee,
            period_key=period_key or f"t:{due.isoformat()}",
            activity_id=activity_id,
            due_at=due.astimezone(UTC),
            status=status,
            created_at=due.astimezone(UTC),
            updated_at=due.astimezone(UTC),
            done_at=done_at,
        )
        s.add(task)
        await s.commit()
        await s.refresh(task)
        return task


async def get_task(bot, task_id: int) -> Task:
    async with bot.sessions() as s:
        return await s.get(Task, task_id)


async def set_task(bot, task_id: int, **values) -> None:
    async with bot.sessions() as s:
        await s.exec(update(Task).where(Task.id == task_id).values(**values))
        await s.commit()


async def add_leave(bot, open_id: str, start: date, end: date) -> None:
    async with bot.sessions() as s:
        s.add(Leave(open_id=open_id, start_date=start, end_date=end, created_at=datetime.now(UTC)))
        await s.commit()


async def outbox(bot, *, after_id: int = 0) -> list[OutboundMessage]:
    async with bot.sessions() as s:
        stmt = (
            select(OutboundMessage)
            .where(OutboundMessage.id > after_id)
            .order_by(OutboundMessage.id)
        )
        return list((await s.exec(stmt)).all())


async def last_outbox_id(bot) -> int:
    rows = await outbox(bot)
    return rows[-1].id if rows else 0


def content(row: OutboundMessage) -> dict:
    return json.loads(row.content)


def text_of(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


def title(card: dict) -> str:
    return card["header"]["title"]["content"]


def buttons(card: dict) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("tag") == "button":
                found.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return found


def button_values(card: dict) -> list[dict]:
    return [b["behaviors"][0]["value"] for b in buttons(card) if b.get("behaviors")]


async def tasks_of(bot, *, activity_id: int | None = None, statuses=None) -> list[Task]:
    async with bot.sessions() as s:
        stmt = select(Task)
        if activity_id is not None:
            stmt = stmt.where(Task.activity_id == activity_id)
        if statuses:
            stmt = stmt.where(col(Task.status).in_(statuses))
        return list((await s.exec(stmt.order_by(Task.due_at, Task.duty_key))).all())


async def new_activity(
    bot,
    start: date,
    end: date,
    *,
    services: Services | None = None,
    owner: str = "ou_planner",
    title: str = "新品发布会",
    now: datetime | None = None,
    **kw,
):
    async with bot.sessions() as s:
        change = await create_activity(
            s,
            services or bot.services,
            (now or bot.clock.now()).astimezone(UTC),
            ActivityInput(title=title, start=start, end=end, owner_open_id=owner, **kw),
            created_by="ou_manager",
        )
        await s.commit()
        return change


def services_with(bot, calendar) -> Services:
    return Services(bot.settings, bot.policy, calendar, bot.services.bot_open_id)


def with_settings(bot, **changes) -> None:
    """Change the running bot's settings (e.g. the digest schedule)."""
    bot.settings = replace(bot.settings, **changes)
    bot.services.settings = bot.settings


def due_by_duty(tasks: list[Task]) -> dict[str, str]:
    """duty key -> local due "YYYY-MM-DD HH:MM" (for one assignee per duty)."""
    return {t.duty_key: t.due_at.astimezone(SH).strftime("%Y-%m-%d %H:%M") for t in tasks}
