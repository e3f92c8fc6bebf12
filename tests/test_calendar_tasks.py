"""An activity's task chain on real dates: National Day and Mid-Autumn 2026, Spring Festival
2026 with its make-up Saturdays, the 2026 -> 2027 year end, and 2027 (no official data yet)
with and without an override file. Relative deadlines both ways: T-35 / T-30 / T-15
calendar days before the start (a day off moves back), E+3 / E+5 / E+7 working days after
the end."""

from __future__ import annotations

import logging
from datetime import date

from sqlmodel import select

from bot.domain.workcalendar import WorkCalendar
from bot.jobs.scheduler import run_tick
from storage.models import Marker
from tests.sched_helpers import (
    at,
    content,
    due_by_duty,
    new_activity,
    outbox,
    services_with,
    tasks_of,
    title,
)


async def test_chain_around_national_day_and_mid_autumn_2026(harness):
    harness.clock.set(at(2026, 8, 3))
    change = await new_activity(harness.bot, date(2026, 10, 12), date(2026, 10, 12))
    due = due_by_duty(change.tasks)
    assert due == {
        "research.audience_research": "2026-09-07 18:00",  # T-35: a Monday
        "planner.activity_plan": "2026-09-11 18:00",  # T-30 = Sat 09-12 -> Fri 09-11
        "manager.plan_approval": "2026-09-11 18:00",
        # T-15 = Sun 09-27; Sat 26 and Fri 25 (Mid-Autumn) are off -> Thu 09-24
        "planner.preparation": "2026-09-24 18:00",
        "digital.promotion_plan": "2026-09-24 18:00",
        "planner.execution_report": "2026-10-15 18:00",  # E+3 working days
        "digital.traffic_report": "2026-10-15 18:00",
        "manager.spend_review": "2026-10-19 18:00",  # E+5: Tue 13 .. Mon 19
        "manager.retrospective": "2026-10-21 18:00",  # E+7
    }
    assert not change.previous_due  # nothing was already past


async def test_after_deadlines_jump_national_day_and_count_the_make_up_saturday(harness):
    harness.clock.set(at(2026, 8, 3))
    change = await new_activity(harness.bot, date(2026, 9, 29), date(2026, 9, 29))
    due = due_by_duty(change.tasks)
    # E+3: Wed 09-30, (Oct 1-7 off), Thu 10-08, Fri 10-09
    assert due["planner.execution_report"] == "2026-10-09 18:00"
    # E+5: ..., Sat 10-10 (make-up working day), Mon 10-12
    assert due["manager.spend_review"] == "2026-10-12 18:00"
    assert due["manager.retrospective"] == "2026-10-14 18:00"  # E+7


async def test_spring_festival_2026_make_up_saturdays_both_ways(harness):
    harness.clock.set(at(2026, 1, 5))
    change = await new_activity(harness.bot, date(2026, 3, 5), date(2026, 3, 5))
    due = due_by_duty(change.tasks)
    # T-15 = Wed 02-18, in the holiday: the previous working day is Sat 02-14 (make-up day)
    assert due["planner.preparation"] == "2026-02-14 18:00"
    change = await new_activity(harness.bot, date(2026, 2, 13), date(2026, 2, 13), title="年会")
    due = due_by_duty(change.tasks)
    # E+3 from Fri 02-13: Sat 02-14 (make-up), Tue 02-24, Wed 02-25
    assert due["planner.execution_report"] == "2026-02-25 18:00"
    # E+7: ..., Sat 02-28 (make-up), Mon 03-02
    assert due["manager.retrospective"] == "2026-03-02 18:00"


async def test_year_end_into_2027_without_and_with_an_override(harness, tmp_path):
    harness.clock.set(at(2026, 12, 1))
    plain = await new_activity(harness.bot, date(2026, 12, 30), date(2026, 12, 30))
    # 2027 has no official data, but New Year's Day (a Friday) is off by law:
    # Dec 31, (Jan 1 off), Jan 4, Jan 5
    assert due_by_duty(plain.tasks)["planner.execution_report"] == "2027-01-05 18:00"
    override = tmp_path / "calendar.toml"
    override.write_text('holidays = ["2027-01-04"]\n', encoding="utf-8")
    services = services_with(harness.bot, WorkCalendar.from_file(override))
    fixed = await new_activity(
        harness.bot, date(2026, 12, 30), date(2026, 12, 30), services=services, title="跨年"
    )
    # a company day off on top: Dec 31, (Jan 1, Jan 4 off), Jan 5, Jan 6
    assert due_by_duty(fixed.tasks)["planner.execution_report"] == "2027-01-06 18:00"


async def test_2027_spring_festival_is_known_and_the_override_adds_the_make_up_days(
    harness, tmp_path
):
    harness.clock.set(at(2027, 1, 4))
    guess = await new_activity(harness.bot, date(2027, 2, 4), date(2027, 2, 4))
    due = due_by_duty(guess.tasks)
    # 除夕 Fri 02-05 to 初三 Mon 02-08 are off by law: Tue 02-09, Wed 02-10, Thu 02-11
    assert due["planner.execution_report"] == "2027-02-11 18:00"
    guess = await new_activity(harness.bot, date(2027, 2, 5), date(2027, 2, 5), title="除夕")
    due = due_by_duty(guess.tasks)
    assert due["planner.preparation"] == "2027-01-21 18:00"  # T-15, a Thursday
    override = tmp_path / "calendar.toml"
    override.write_text(
        'holidays = ["2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"]\n'
        'workdays = ["2027-02-06"]\n',
        encoding="utf-8",
    )
    services = services_with(harness.bot, WorkCalendar.from_file(override))
    known = await new_activity(
        harness.bot, date(2027, 2, 5), date(2027, 2, 5), services=services, title="春节"
    )
    due = due_by_duty(known.tasks)
    # Sat 02-06 (make-up working day), (08-12 off), Mon 02-15, Tue 02-16
    assert due["planner.execution_report"] == "2027-02-16 18:00"
    # E+7: 17, 18, 19, 22 (Mon) -> Mon 02-22
    assert due["manager.retrospective"] == "2027-02-22 18:00"


async def test_a_year_without_data_is_announced_to_the_admins_once(harness, caplog):
    harness.clock.set(at(2026, 12, 1))
    caplog.set_level(logging.WARNING, logger="dutybot.calendar")
    before = len(await outbox(harness.bot))
    await new_activity(harness.bot, date(2027, 3, 1), date(2027, 3, 2))
    rows = (await outbox(harness.bot))[before:]
    notices = [r for r in rows if "2027" in title(content(r)) and "日历" in title(content(r))]
    assert sorted(r.receive_id for r in notices) == ["ou_director", "ou_manager"]  # the admins
    assert "no official holiday data for 2027" in caplog.text
    # a tick, another activity, a restart: never again
    await run_tick(harness.bot, at(2026, 12, 2))
    await new_activity(harness.bot, date(2027, 4, 1), date(2027, 4, 1), title="第二场")
    rows = (await outbox(harness.bot))[before:]
    assert len([r for r in rows if "日历" in title(content(r))]) == 2
    async with harness.bot.sessions() as s:
        keys = (await s.exec(select(Marker.key).where(Marker.key.like("calendar:%")))).all()
    assert keys == ["calendar:2027"]


async def test_only_an_override_that_confirms_the_year_means_no_notice(harness, tmp_path):
    harness.clock.set(at(2026, 12, 1))
    override = tmp_path / "calendar.toml"
    override.write_text('workdays = ["2027-02-20"]\nconfirmed_years = [2027]\n', encoding="utf-8")
    services = services_with(harness.bot, WorkCalendar.from_file(override))
    before = len(await outbox(harness.bot))
    await new_activity(harness.bot, date(2027, 3, 1), date(2027, 3, 2), services=services)
    rows = (await outbox(harness.bot))[before:]
    assert not [r for r in rows if "日历" in title(content(r))]
    # and a tick in late 2026 looking into 2027 does not crash (fallback) either way
    report = await run_tick(harness.bot, at(2026, 12, 28))
    assert report.errors == []


async def test_tasks_already_past_are_due_the_next_working_day(harness):
    # Thu 2026-11-26 10:00; the activity starts in 10 days: T-35/T-30 are past
    change = await new_activity(harness.bot, date(2026, 12, 7), date(2026, 12, 7))
    due = due_by_duty(change.tasks)
    assert due["planner.activity_plan"] == "2026-11-27 18:00"  # Friday, not 2026-11-06
    assert due["research.audience_research"] == "2026-11-27 18:00"
    assert due["planner.preparation"] == "2026-11-27 18:00"  # T-15 = 11-22, past too
    clamped = {t.duty_key for t in change.tasks if t.id in change.previous_due}
    assert clamped == {
        "planner.activity_plan",
        "manager.plan_approval",
        "research.audience_research",
        "planner.preparation",
        "digital.promotion_plan",
    }
    assert len(await tasks_of(harness.bot, activity_id=change.activity.id)) == 9
