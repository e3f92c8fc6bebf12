"""Due rules -> concrete due datetimes, on real 2026/2027 calendar dates."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.policy import DueRule, load_policy
from bot.domain.schedule import (
    activity_due,
    activity_due_date,
    occurrence_for,
    sla_due,
    upcoming_occurrences,
)
from bot.domain.workcalendar import WorkCalendar

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
POLICY = load_policy()
SIX_PM = time(18, 0)


def local(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def due_local(occ) -> datetime:
    return occ.due_at.astimezone(TZ)


def keys_and_dues(occs):
    return [(o.period_key, due_local(o).strftime("%Y-%m-%d %H:%M")) for o in occs]


def weekly(day="fri", **kw) -> DueRule:
    return DueRule(kind="weekly", time=SIX_PM, adjust="previous_workday", weekday=_wd(day), **kw)


def _wd(name: str) -> int:
    return ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(name)


def monthly(**kw) -> DueRule:
    return DueRule(kind="monthly", time=SIX_PM, adjust=kw.pop("adjust", "previous_workday"), **kw)


# -- weekly ------------------------------------------------------------------------------


def test_weekly_friday_report_current_and_next_week():
    rule = POLICY.duty("manager.weekly_progress").due
    occs = upcoming_occurrences(rule, local(2026, 11, 26), TZ, CAL)
    assert keys_and_dues(occs) == [
        ("2026-W48", "2026-11-27 18:00"),
        ("2026-W49", "2026-12-04 18:00"),
    ]
    assert occs[0].due_at == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert occs[0].due_at.tzinfo is UTC
    assert occs[0].period_start == date(2026, 11, 23)
    assert occs[0].period_end == date(2026, 11, 29)
    assert occs[0].label("zh") == "2026年第48周"
    assert occs[0].label("en") == "2026 week 48"


def test_weekly_current_week_kept_when_slightly_overdue_then_dropped_next_week():
    rule = weekly()
    sat = upcoming_occurrences(rule, local(2026, 11, 28), TZ, CAL)
    assert [o.period_key for o in sat] == ["2026-W48", "2026-W49"]
    mon = upcoming_occurrences(rule, local(2026, 11, 30), TZ, CAL)
    assert [o.period_key for o in mon] == ["2026-W49", "2026-W50"]


def test_weekly_friday_in_national_day_moves_to_previous_working_day():
    occs = upcoming_occurrences(weekly(), local(2026, 9, 28), TZ, CAL, count=3)
    assert keys_and_dues(occs) == [
        ("2026-W40", "2026-09-30 18:00"),  # Fri 10-02 is a holiday
        ("2026-W41", "2026-10-09 18:00"),
        ("2026-W42", "2026-10-16 18:00"),
    ]


def test_weekly_at_the_turn_of_the_year_iso_week_53():
    occs = upcoming_occurrences(weekly(), local(2026, 12, 30), TZ, CAL, count=3)
    # 2027 has no official data, but New Year's Day (Fri 2027-01-01) is off by law:
    # the W53 report moves back to Thursday
    assert keys_and_dues(occs) == [
        ("2026-W53", "2026-12-31 18:00"),
        ("2027-W01", "2027-01-08 18:00"),
        ("2027-W02", "2027-01-15 18:00"),
    ]
    # a company that works on New Year's Day says so in the override file
    cal = WorkCalendar(workdays={date(2027, 1, 1)})
    occs = upcoming_occurrences(weekly(), local(2026, 12, 30), TZ, cal)
    assert keys_and_dues(occs) == [
        ("2026-W53", "2027-01-01 18:00"),
        ("2027-W01", "2027-01-08 18:00"),
    ]


def test_a_week_without_a_working_day_by_friday_reports_on_its_last_working_day():
    # 2026-W41 Mon 10-05 .. Sun 10-11 in a company that is off Mon-Fri but works Sat 10-10
    off = {date(2026, 10, d) for d in range(5, 10)}
    cal = WorkCalendar(holidays=off)
    occs = upcoming_occurrences(weekly(), local(2026, 10, 5), TZ, cal)
    assert keys_and_dues(occs)[0] == ("2026-W41", "2026-10-10 18:00")
    # and a week with no working day at all has no weekly report
    cal = WorkCalendar(holidays=off | {date(2026, 10, 10)})
    occs = upcoming_occurrences(weekly(), local(2026, 10, 5), TZ, cal)
    assert [o.period_key for o in occs] == ["2026-W42", "2026-W43"]


def test_weekly_from_a_year_end_override_file(tmp_path):
    f = tmp_path / "calendar.toml"
    f.write_text('holidays = ["2027-01-01"]\n', encoding="utf-8")
    occs = upcoming_occurrences(weekly(), local(2027, 1, 1), TZ, WorkCalendar.from_file(f))
    assert keys_and_dues(occs)[0] == ("2026-W53", "2026-12-31 18:00")


# -- monthly -----------------------------------------------------------------------------


def test_monthly_brand_report_before_the_5th_across_the_year_end():
    rule = POLICY.duty("brand.monthly_report").due
    occs = upcoming_occurrences(rule, local(2026, 11, 26), TZ, CAL)
    assert keys_and_dues(occs) == [
        ("2026-11", "2026-12-04 18:00"),
        ("2026-12", "2027-01-04 18:00"),
    ]
    assert occs[0].label("zh") == "2026年11月"
    assert occs[1].label("en") == "December 2026"
    assert occs[1].period_start == date(2026, 12, 1)
    assert occs[1].period_end == date(2026, 12, 31)
    # 2027-01-04 made a holiday by override: Jan 1-4 are all off, and going back would
    # make the December report due in December: it rolls forward (顺延) to Tue 01-05
    cal = WorkCalendar(holidays={date(2027, 1, 1), date(2027, 1, 4)})
    occs = upcoming_occurrences(rule, local(2026, 11, 26), TZ, cal)
    assert keys_and_dues(occs)[1] == ("2026-12", "2027-01-05 18:00")


def test_monthly_report_for_last_month_still_due_this_month_is_first():
    rule = POLICY.duty("brand.monthly_report").due
    early = upcoming_occurrences(rule, local(2026, 12, 2), TZ, CAL)
    assert [o.period_key for o in early] == ["2026-11", "2026-12"]
    late = upcoming_occurrences(rule, local(2026, 12, 5), TZ, CAL)
    assert [o.period_key for o in late] == ["2026-12", "2027-01"]


def test_the_september_report_is_never_due_in_september_when_national_day_takes_the_4th():
    rule = POLICY.duty("brand.monthly_report").due
    occs = upcoming_occurrences(rule, local(2026, 9, 10), TZ, CAL)
    # Oct 1-7 are off: not back to Sep 30 (inside the month it covers) but on to Oct 8
    assert keys_and_dues(occs)[0] == ("2026-09", "2026-10-08 18:00")


def test_monthly_before_each_month_plan():
    rule = POLICY.duty("brand.content_plan").due
    assert rule.before_start
    occs = upcoming_occurrences(rule, local(2026, 11, 26), TZ, CAL)
    assert keys_and_dues(occs) == [
        ("2026-12", "2026-11-30 18:00"),
        ("2027-01", "2026-12-31 18:00"),
    ]
    # once December has started, its plan (due 11-30) is not generated any more
    occs = upcoming_occurrences(rule, local(2026, 12, 1), TZ, CAL)
    assert [o.period_key for o in occs] == ["2027-01", "2027-02"]


def test_monthly_plan_around_spring_festival_make_up_saturday():
    rule = POLICY.duty("manager.execution_plan").due
    occs = upcoming_occurrences(rule, local(2026, 1, 20), TZ, CAL)
    assert keys_and_dues(occs) == [
        ("2026-02", "2026-01-30 18:00"),  # Sat 01-31 is off
        ("2026-03", "2026-02-28 18:00"),  # Sat 02-28 is a make-up working day
    ]


def test_monthly_last_day_and_adjust_none():
    rule = monthly(day=-1, covers="current")
    occs = upcoming_occurrences(rule, local(2026, 1, 3), TZ, CAL)
    # Sat 01-31 is off -> Fri 01-30; Sat 02-28 is a make-up working day and stays
    assert keys_and_dues(occs) == [("2026-01", "2026-01-30 18:00"), ("2026-02", "2026-02-28 18:00")]
    rule = monthly(day=-1, covers="current", adjust="none")
    occs = upcoming_occurrences(rule, local(2026, 1, 3), TZ, CAL)
    assert keys_and_dues(occs)[0] == ("2026-01", "2026-01-31 18:00")
    rule = monthly(day=-2, covers="current", adjust="none")
    occs = upcoming_occurrences(rule, local(2026, 1, 3), TZ, CAL)
    assert keys_and_dues(occs)[0] == ("2026-01", "2026-01-30 18:00")


def test_monthly_next_workday_adjust():
    rule = monthly(day=3, covers="current", adjust="next_workday")
    # the current month's task is kept although due on the 3rd (the current period)
    occs = upcoming_occurrences(rule, local(2026, 9, 20), TZ, CAL, count=3)
    assert keys_and_dues(occs) == [
        ("2026-09", "2026-09-03 18:00"),
        ("2026-10", "2026-10-08 18:00"),  # Sat 10-03 in National Day -> Thu 10-08
        ("2026-11", "2026-11-03 18:00"),
    ]


# -- quarterly / yearly ------------------------------------------------------------------


def test_quarterly_training_by_the_end_of_each_quarter():
    rule = POLICY.duty("director.team_training").due
    occs = upcoming_occurrences(rule, local(2026, 11, 26), TZ, CAL)
    assert keys_and_dues(occs) == [
        ("2026-Q4", "2026-12-31 18:00"),
        ("2027-Q1", "2027-03-31 18:00"),
    ]
    assert occs[0].label("zh") == "2026年第4季度"
    assert occs[0].label("en") == "2026 Q4"
    assert occs[0].period_start == date(2026, 10, 1)
    assert occs[0].period_end == date(2026, 12, 31)


def test_quarterly_before_each_quarter():
    rule = DueRule(kind="quarterly", time=SIX_PM, adjust="previous_workday", before_start=True)
    occs = upcoming_occurrences(rule, local(2026, 9, 1), TZ, CAL)
    assert keys_and_dues(occs) == [
        ("2026-Q4", "2026-09-30 18:00"),
        ("2027-Q1", "2026-12-31 18:00"),
    ]


def test_quarterly_month_in_quarter_covers_previous():
    # before the 10th of the 1st month of the next quarter, about the quarter just ended
    rule = DueRule(
        kind="quarterly",
        time=SIX_PM,
        adjust="previous_workday",
        month=1,
        before_day=10,
        covers="previous",
    )
    occs = upcoming_occurrences(rule, local(2026, 9, 15), TZ, CAL)
    assert keys_and_dues(occs) == [
        ("2026-Q3", "2026-10-09 18:00"),
        ("2026-Q4", "2027-01-08 18:00"),
    ]


def test_yearly_strategy_plan_before_the_year_starts():
    rule = POLICY.duty("director.strategy_plan").due
    occs = upcoming_occurrences(rule, local(2026, 11, 26), TZ, CAL)
    assert keys_and_dues(occs) == [("2027", "2026-12-31 18:00"), ("2028", "2027-12-31 18:00")]
    assert occs[0].label("zh") == "2027年"
    # once 2027 has started, its plan is no longer generated
    occs = upcoming_occurrences(rule, local(2027, 1, 2), TZ, CAL)
    assert [o.period_key for o in occs] == ["2028", "2029"]


def test_yearly_month_and_day():
    rule = DueRule(
        kind="yearly",
        time=time(12, 0),
        adjust="previous_workday",
        month=10,
        day=4,
        covers="current",
    )
    occs = upcoming_occurrences(rule, local(2026, 3, 1), TZ, CAL)
    # 2026-10-04 is in National Day: back to Wed 09-30
    assert keys_and_dues(occs) == [("2026", "2026-09-30 12:00"), ("2027", "2027-10-04 12:00")]


# -- weekdays ----------------------------------------------------------------------------


def test_weekdays_tue_thu_sat():
    rule = POLICY.duty("brand.content_publishing").due
    occs = upcoming_occurrences(rule, local(2026, 11, 26), TZ, CAL, count=4)
    assert keys_and_dues(occs) == [
        ("2026-11-26", "2026-11-26 18:00"),
        ("2026-11-28", "2026-11-28 18:00"),  # Saturday is intended
        ("2026-12-01", "2026-12-01 18:00"),
        ("2026-12-03", "2026-12-03 18:00"),
    ]
    assert occs[1].label("zh") == "2026年11月28日(周六)"
    assert occs[1].label("en") == "Sat 28 Nov 2026"
    # today's occurrence is kept in the evening, gone the next day
    evening = upcoming_occurrences(rule, local(2026, 11, 26, 20, 0), TZ, CAL)
    assert [o.period_key for o in evening] == ["2026-11-26", "2026-11-28"]
    friday = upcoming_occurrences(rule, local(2026, 11, 27), TZ, CAL)
    assert [o.period_key for o in friday] == ["2026-11-28", "2026-12-01"]


def test_weekdays_skip_days_off_in_national_day():
    none = DueRule(kind="weekdays", time=SIX_PM, adjust="none", days=(1, 3, 5))
    skip = DueRule(kind="weekdays", time=SIX_PM, adjust="skip", days=(1, 3, 5))
    now = local(2026, 9, 30)
    assert [o.period_key for o in upcoming_occurrences(none, now, TZ, CAL, count=3)] == [
        "2026-10-01",
        "2026-10-03",
        "2026-10-06",
    ]
    assert [o.period_key for o in upcoming_occurrences(skip, now, TZ, CAL, count=3)] == [
        "2026-10-08",
        "2026-10-10",  # make-up Saturday
        "2026-10-13",
    ]


# -- activity ----------------------------------------------------------------------------


def test_t_minus_30_calendar_days_on_a_weekend_moves_back():
    rule = POLICY.duty("planner.activity_plan").due
    # 2026-12-07 - 30 days = Sat 2026-11-07 -> Fri 11-06
    assert activity_due_date(rule, date(2026, 12, 7), date(2026, 12, 7), CAL) == date(2026, 11, 6)
    due = activity_due(rule, date(2026, 12, 7), date(2026, 12, 7), TZ, CAL)
    assert due == datetime(2026, 11, 6, 10, 0, tzinfo=UTC)
    # 2026-11-03 - 30 days = Sun 10-04 in National Day -> Wed 09-30
    assert activity_due_date(rule, date(2026, 11, 3), date(2026, 11, 3), CAL) == date(2026, 9, 30)


def test_t_minus_35_research_and_t_minus_15_preparation():
    start, end = date(2026, 12, 7), date(2026, 12, 8)
    research = POLICY.duty("research.audience_research").due
    assert activity_due_date(research, start, end, CAL) == date(2026, 11, 2)
    prep = POLICY.duty("planner.preparation").due
    assert activity_due_date(prep, start, end, CAL) == date(2026, 11, 20)  # Sun 11-22 -> Fri


def test_e_plus_3_working_days_across_national_day():
    rule = POLICY.duty("planner.execution_report").due
    # ends Tue 09-29: 09-30, 10-08, 10-09
    due = activity_due(rule, date(2026, 9, 28), date(2026, 9, 29), TZ, CAL)
    assert due == datetime(2026, 10, 9, 10, 0, tzinfo=UTC)
    assert due.astimezone(TZ) == local(2026, 10, 9, 18, 0)


def test_e_plus_7_working_days_counts_the_make_up_saturday():
    rule = POLICY.duty("manager.retrospective").due
    # 09-30, 10-08, 10-09, 10-10 (Sat, make-up), 10-12, 10-13, 10-14
    assert activity_due_date(rule, date(2026, 9, 29), date(2026, 9, 29), CAL) == date(2026, 10, 14)


def test_e_plus_3_working_days_across_spring_festival():
    rule = POLICY.duty("planner.execution_report").due
    # ends Fri 02-13: 02-14 (Sat, make-up), 02-24, 02-25
    assert activity_due_date(rule, date(2026, 2, 12), date(2026, 2, 13), CAL) == date(2026, 2, 25)


def test_activity_positive_calendar_offset_and_zero_offsets():
    after = DueRule(
        kind="activity", time=SIX_PM, adjust="next_workday", anchor="end", offset=2, unit="calendar"
    )
    assert activity_due_date(after, date(2026, 9, 29), date(2026, 9, 29), CAL) == date(2026, 10, 8)
    zero = DueRule(
        kind="activity", time=SIX_PM, adjust="none", anchor="start", offset=0, unit="calendar"
    )
    assert activity_due_date(zero, date(2026, 10, 3), date(2026, 10, 4), CAL) == date(2026, 10, 3)
    zero_wd = DueRule(
        kind="activity", time=SIX_PM, adjust="none", anchor="start", offset=0, unit="working"
    )
    assert activity_due_date(zero_wd, date(2026, 10, 3), date(2026, 10, 4), CAL) == date(
        2026, 10, 8
    )


def test_activity_rejects_end_before_start_and_other_kinds():
    rule = POLICY.duty("planner.execution_report").due
    with pytest.raises(ValueError):
        activity_due(rule, date(2026, 10, 9), date(2026, 10, 8), TZ, CAL)
    with pytest.raises(ValueError):
        activity_due(weekly(), date(2026, 10, 8), date(2026, 10, 9), TZ, CAL)


# -- sla ---------------------------------------------------------------------------------


def test_sla_24_hours_over_a_holiday():
    rule = POLICY.duty("brand.reply_questions").due
    asked = local(2026, 10, 1, 9, 30)
    due = sla_due(rule, asked)
    assert due == datetime(2026, 10, 2, 1, 30, tzinfo=UTC)
    assert due.tzinfo is UTC
    assert sla_due(POLICY.duty("brand.negative_handover").due, asked) == asked + timedelta(hours=1)
    with pytest.raises(ValueError):
        sla_due(rule, datetime(2026, 10, 1, 9, 30))  # naive


# -- misc --------------------------------------------------------------------------------


def test_upcoming_rejects_naive_now_and_non_periodic_rules():
    with pytest.raises(ValueError):
        upcoming_occurrences(weekly(), datetime(2026, 11, 26, 10, 0), TZ, CAL)
    with pytest.raises(ValueError):
        upcoming_occurrences(POLICY.duty("brand.reply_questions").due, local(2026, 11, 26), TZ, CAL)


def test_now_in_another_timezone_uses_the_policy_timezone():
    # 2026-11-29 17:00 UTC is Mon 11-30 01:00 in Shanghai: the current week is W49
    now = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
    assert [o.period_key for o in upcoming_occurrences(weekly(), now, TZ, CAL)] == [
        "2026-W49",
        "2026-W50",
    ]
    assert [o.period_key for o in upcoming_occurrences(weekly(), now, "Asia/Shanghai", CAL)][
        0
    ] == "2026-W49"


def test_occurrence_for_matches_upcoming_for_every_periodic_duty():
    now = local(2026, 12, 29)
    for duty in POLICY.periodic_duties():
        for occ in upcoming_occurrences(duty.due, now, TZ, CAL, count=3):
            assert occurrence_for(duty.due, occ.period_key, TZ, CAL) == occ, duty.key
    with pytest.raises(ValueError):
        occurrence_for(weekly(), "2026-11", TZ, CAL)
    tuesdays = DueRule(kind="weekdays", time=SIX_PM, adjust="none", days=(1,))
    assert occurrence_for(tuesdays, "2026-11-26", TZ, CAL) is None  # a Thursday


def test_due_times_never_decrease_and_results_are_consecutive():
    for duty in POLICY.periodic_duties():
        now = local(2026, 1, 1)
        for _ in range(60):
            occs = upcoming_occurrences(duty.due, now, TZ, CAL, count=3)
            assert len(occs) == 3, duty.key
            assert occs[0].due_at <= occs[1].due_at <= occs[2].due_at, duty.key
            assert len({o.period_key for o in occs}) == 3
            # nothing returned is overdue by more than one period's length
            assert occs[0].due_at >= now - timedelta(days=31), (duty.key, now)
            now += timedelta(days=7)
