"""Schema and policy loading: migrations match the models; editing the policy and
restarting updates duties without losing tasks; task generation is idempotent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, func, select

import storage.models  # noqa: F401
from bot.app import build_app
from storage import db
from storage.models import Duty, Task
from storage.tasks import ensure_periodic_tasks
from tests.conftest import make_settings, sync_team

POLICY = Path(__file__).resolve().parent.parent / "bot" / "policies" / "marketing.toml"


async def test_migrations_match_the_models(db_url):
    engine = db.make_engine(db_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )
    await engine.dispose()
    assert diff == []


async def test_task_generation_is_idempotent_and_unique_per_period(harness):
    bot = harness.bot
    async with bot.sessions() as session:
        before = (await session.exec(select(func.count()).select_from(Task))).one()
        again = await ensure_periodic_tasks(
            session, bot.policy, bot.calendar, bot.settings.tz, bot.clock.now()
        )
        await session.commit()
    assert before > 0 and again == 0
    harness.clock.advance(timedelta(days=7))  # a week later the next week's task appears
    async with bot.sessions() as session:
        added = await ensure_periodic_tasks(
            session, bot.policy, bot.calendar, bot.settings.tz, bot.clock.now()
        )
        await session.commit()
        weekly = (
            await session.exec(
                select(Task.period_key)
                .where(Task.duty_key == "manager.weekly_progress")
                .order_by(Task.period_key)
            )
        ).all()
    assert added > 0
    assert weekly == ["2026-W48", "2026-W49", "2026-W50"]


async def test_editing_the_policy_and_restarting_keeps_tasks(tmp_path, db_url, emulator, clock):
    bot = build_app(make_settings(db_url, emulator.base_url), clock=clock)
    await bot.start()
    await sync_team(bot)
    async with bot.sessions() as session:
        tasks_before = (await session.exec(select(func.count()).select_from(Task))).one()
    await bot.stop()

    text = POLICY.read_text(encoding="utf-8")
    start = text.index('key = "manager.weekly_progress"')
    edited = text.replace('name_zh = "项目进度周报"', 'name_zh = "项目周报"', 1)
    # drop the FAQ duty entirely
    faq = edited.index('key = "brand.faq"')
    block_start = edited.rindex("[[duties]]", 0, faq)
    block_end = edited.index("[[duties]]", faq)
    edited = edited[:block_start] + edited[block_end:]
    assert start > 0
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(edited, encoding="utf-8")

    bot = build_app(
        make_settings(db_url, emulator.base_url, policy_path=str(policy_file)), clock=clock
    )
    await bot.start()
    async with bot.sessions() as session:
        weekly = await session.get(Duty, "manager.weekly_progress")
        faq_duty = await session.get(Duty, "brand.faq")
        tasks_after = (await session.exec(select(func.count()).select_from(Task))).one()
    await bot.stop()
    assert weekly.name_zh == "项目周报"
    assert faq_duty is not None and faq_duty.active is False
    assert tasks_after == tasks_before
