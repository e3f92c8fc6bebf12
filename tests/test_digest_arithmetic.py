"""Digest arithmetic: when each digest is due, what period it covers, how tasks count."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.digests import (
    EXCUSED,
    LATE,
    MISSING,
    ON_TIME,
    PENDING,
    due_periods,
    monday_of,
    month_period,
    monthly_send_at,
    outcome,
    tally,
    week_period,
    weekly_draft,
    weekly_send_at,
)
from bot.domain.workcalendar import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def cal():
    return WorkCalendar()


def test_weekly_digest_moves_to_the_working_day_before_a_holiday(cal):
    # Friday 2026-10-02 is National Day: that week's digest goes out... on Wednesday 09-30
    assert weekly_send_at("fri 17:00", cal, date(2026, 10, 1), SH) == datetime(
        2026, 9, 30, 17, 0, tzinfo=SH
    )
    assert weekly_send_at("fri 17:00", cal, date(2026, 12, 2), SH) == datetime(
        2026, 12, 4, 17, 0, tzinfo=SH
    )
    assert weekly_send_at("off", cal, date(2026, 12, 2), SH) is None


def test_monthly_digest_on_the_first_working_day_about_last_month(cal):
    # 2026-10-01..07 are off: October's first working day is the 8th
    assert monthly_send_at("10:00", cal, date(2026, 10, 20), SH) == datetime(
        2026, 10, 8, 10, 0, tzinfo=SH
    )
    periods = due_periods("fri 17:00", "10:00", cal, datetime(2026, 10, 8, 10, 5, tzinfo=SH))
    assert [p.key for p in periods] == ["2026-09"]
    assert periods[0].start == date(2026, 9, 1) and periods[0].end == date(2026, 9, 30)
    # a few working days later it is no longer caught up
    assert due_periods("off", "10:00", cal, datetime(2026, 10, 14, 10, 5, tzinfo=SH)) == []
    friday = due_periods("fri 17:00", "off", cal, datetime(2026, 12, 4, 17, 0, tzinfo=SH))
    assert [p.key for p in friday] == ["2026-W49"]


def test_periods_and_labels():
    week = week_period(date(2026, 12, 3))
    assert (week.key, week.start, week.end) == ("2026-W49", date(2026, 11, 30), date(2026, 12, 6))
    assert week.label == "2026年第49周（11-30 – 12-06）"
    assert month_period(date(2026, 2, 14)).end == date(2026, 2, 28)
    assert monday_of("2026-W49") == date(2026, 11, 30) and monday_of("2026-11") is None


def test_how_tasks_count_and_the_completion_rate():
    due = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    now = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
    assert outcome(due, due, False, now) == ON_TIME
    assert outcome(due, due.replace(hour=11), False, now) == LATE
    assert outcome(due, None, True, now) == EXCUSED  # on leave: never counted against them
    assert outcome(due, None, False, now) == MISSING
    assert outcome(due, None, False, due.replace(hour=9)) == PENDING
    counts = tally([ON_TIME, ON_TIME, LATE, MISSING, EXCUSED, PENDING])
    assert (counts.done, counts.counted, counts.total) == (3, 4, 6)
    assert counts.rate == 0.75
    assert tally([EXCUSED, PENDING]).rate is None  # nothing was due yet
    assert (counts + counts).missing == 2


def test_weekly_draft_fields():
    assert weekly_draft(0.756789, ["A：周报（逾期 2 个工作日）"]) == {
        "completion_rate": 0.7568,
        "risks": "- A：周报（逾期 2 个工作日）",
    }
    assert weekly_draft(None, []) == {"risks": "无逾期事项"}
