"""Mainland-China working days: official data, make-up days, overrides, years without data."""

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from bot.domain.workcalendar import CalendarError, WorkCalendar


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()


def D(s: str) -> date:
    return date.fromisoformat(s)


def test_national_day_2026_is_off_for_seven_days(cal):
    for day in range(1, 8):
        assert not cal.is_workday(date(2026, 10, day)), f"2026-10-0{day} should be off"
    assert cal.is_workday(D("2026-09-30"))  # Wednesday before
    assert cal.is_workday(D("2026-10-08"))  # Thursday after


def test_national_day_2026_make_up_days_are_working_days(cal):
    # 调休: Sunday 2026-09-20 and Saturday 2026-10-10 are working days
    assert D("2026-09-20").weekday() == 6
    assert cal.is_workday(D("2026-09-20"))
    assert D("2026-10-10").weekday() == 5
    assert cal.is_workday(D("2026-10-10"))
    # an ordinary weekend around it is still off
    assert not cal.is_workday(D("2026-10-11"))
    # Mid-autumn festival, Friday 2026-09-25
    assert not cal.is_workday(D("2026-09-25"))


def test_spring_festival_2026(cal):
    for d in ("2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23"):
        assert not cal.is_workday(D(d)), d  # weekdays that are off
    assert cal.is_workday(D("2026-02-14"))  # Saturday make-up day
    assert cal.is_workday(D("2026-02-28"))  # Saturday make-up day
    assert cal.is_workday(D("2026-02-24"))  # first working day after


def test_official_data_range(cal):
    assert cal.has_official_data(2026)
    assert cal.has_official_data(2004)
    assert not cal.has_official_data(2027)
    assert not cal.has_official_data(2003)


def test_year_without_data_keeps_weekends_and_the_statutory_holidays(cal):
    # chinesecalendar 1.11 raises NotImplementedError for 2027; we must not
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D("2027-01-01"))
    assert not cal.is_workday(D("2027-01-01"))  # Friday, but New Year's Day by law
    assert not cal.is_workday(D("2027-01-02"))  # Saturday
    assert not cal.is_workday(D("2027-01-03"))  # Sunday
    assert cal.is_workday(D("2027-01-04"))
    # far outside the range in both directions
    assert cal.is_workday(D("1990-01-02"))  # Tuesday (01-01 is New Year by law)
    assert not cal.is_workday(D("2100-01-02"))  # Saturday


def test_2027_statutory_holidays_are_computed_from_the_lunar_calendar(cal):
    # 除夕 to 初三: lunar new year 2027 is Sat 02-06, so Fri 02-05 to Mon 02-08
    for day in ("2027-02-05", "2027-02-08"):
        assert not cal.is_workday(D(day)), day
        assert cal.holiday_name(D(day)) == "春节"
    assert cal.is_workday(D("2027-02-09"))  # 初四: only the 调休 announcement can move it
    assert cal.holiday_name(D("2027-04-05")) == "清明节"  # the solar term, a Monday
    assert not cal.is_workday(D("2027-04-05"))
    assert [cal.is_workday(D(f"2027-05-0{d}")) for d in (3, 4)] == [True, True]
    assert cal.holiday_name(D("2027-06-09")) == "端午节"  # lunar 5/5
    assert cal.holiday_name(D("2027-09-15")) == "中秋节"  # lunar 8/15
    assert not any(cal.is_workday(D(f"2027-10-0{d}")) for d in (1, 2, 3))
    assert cal.is_workday(D("2027-10-04"))
    assert cal.holiday_name(D("2026-10-01")) is None  # official years speak for themselves


def test_the_computed_holidays_agree_with_the_official_years():
    """Every day the 2025 rules compute for 2025 and 2026 is an official day off."""
    from bot.domain.statutory import statutory_holidays

    for year in (2025, 2026):
        days = statutory_holidays(year)
        assert len(days) == 13
        assert [d for d in days if chinese_calendar.is_workday(d)] == []


def test_a_year_is_confirmed_only_where_the_override_file_says_so(tmp_path):
    one_date = tmp_path / "one.toml"
    one_date.write_text('holidays = ["2027-10-04"]\n', encoding="utf-8")
    assert not WorkCalendar.from_file(one_date).is_confirmed(2027)
    confirmed = tmp_path / "confirmed.toml"
    confirmed.write_text(
        'holidays = ["2027-10-04"]\nworkdays = ["2027-02-20"]\nconfirmed_years = [2027]\n',
        encoding="utf-8",
    )
    cal = WorkCalendar.from_file(confirmed)
    assert cal.is_confirmed(2027) and cal.is_confirmed(2026) and not cal.is_confirmed(2028)
    assert cal.is_workday(D("2027-02-20")) and not cal.is_workday(D("2027-10-04"))
    bad = tmp_path / "bad.toml"
    bad.write_text('confirmed_years = ["2027"]\n', encoding="utf-8")
    with pytest.raises(CalendarError, match="confirmed_years"):
        WorkCalendar.from_file(bad)


def test_overrides_beat_official_data_and_fallback():
    cal = WorkCalendar(
        holidays={D("2026-11-26"), D("2027-01-01")},
        workdays={D("2026-10-03"), D("2027-02-06")},
    )
    assert not cal.is_workday(D("2026-11-26"))  # an official working Thursday, made off
    assert cal.is_workday(D("2026-10-03"))  # an official holiday, made on
    assert not cal.is_workday(D("2027-01-01"))
    assert cal.is_workday(D("2027-02-06"))  # Saturday in a year without data


def test_datetime_is_treated_as_its_date(cal):
    assert not cal.is_workday(datetime(2026, 10, 1, 12, 0))
    assert cal.is_workday(datetime(2026, 10, 10, 12, 0))


def test_previous_and_next_workday(cal):
    assert cal.previous_workday(D("2026-10-03")) == D("2026-09-30")
    assert cal.next_workday(D("2026-10-03")) == D("2026-10-08")
    # a working day is returned unchanged, even a make-up Saturday
    assert cal.previous_workday(D("2026-10-10")) == D("2026-10-10")
    assert cal.next_workday(D("2026-10-10")) == D("2026-10-10")
    # Spring Festival
    assert cal.next_workday(D("2026-02-15")) == D("2026-02-24")


def test_add_workdays_across_national_day(cal):
    assert cal.add_workdays(D("2026-09-30"), 1) == D("2026-10-08")
    assert cal.add_workdays(D("2026-09-29"), 3) == D("2026-10-09")
    assert cal.add_workdays(D("2026-10-09"), 1) == D("2026-10-10")  # make-up Saturday
    assert cal.add_workdays(D("2026-10-08"), -1) == D("2026-09-30")
    assert cal.add_workdays(D("2026-10-05"), -2) == D("2026-09-29")
    assert cal.add_workdays(D("2026-10-03"), 0) == D("2026-10-03")


def test_add_workdays_across_year_end_into_a_year_without_data():
    cal = WorkCalendar()
    assert cal.add_workdays(D("2026-12-31"), 1) == D("2027-01-04")  # New Year's Day is off
    cal = WorkCalendar(workdays={D("2027-01-01")})  # unless the company works it
    assert cal.add_workdays(D("2026-12-31"), 1) == D("2027-01-01")
    cal = WorkCalendar()
    assert cal.add_workdays(D("2027-01-04"), -1) == D("2026-12-31")


def test_workdays_between(cal):
    assert cal.workdays_between(D("2026-09-30"), D("2026-10-08")) == 1
    assert cal.workdays_between(D("2026-10-08"), D("2026-09-30")) == -1
    assert cal.workdays_between(D("2026-10-08"), D("2026-10-08")) == 0
    assert cal.workdays_between(D("2026-09-28"), D("2026-10-12")) == 6
    # inverse of add_workdays for every working day over two busy months
    a = D("2026-09-15")
    d = D("2026-09-01")
    while d < D("2026-11-01"):
        if cal.is_workday(d):
            assert cal.add_workdays(a, cal.workdays_between(a, d)) == d, d
        d += timedelta(days=1)


def test_is_workday_is_cached(monkeypatch):
    calls = []
    real = chinese_calendar.is_workday

    def counting(d):
        calls.append(d)
        return real(d)

    monkeypatch.setattr(chinese_calendar, "is_workday", counting)
    cal = WorkCalendar()
    cal.has_official_data(2026)
    calls.clear()
    for _ in range(3):
        cal.add_workdays(D("2026-09-01"), 40)
    distinct = len(set(calls))
    assert distinct == len(calls), "a date was looked up twice"
    assert distinct > 40


def test_constructor_rejects_a_date_in_both_lists():
    with pytest.raises(CalendarError) as e:
        WorkCalendar(holidays={D("2027-01-01")}, workdays={D("2027-01-01")})
    assert "2027-01-01" in str(e.value)


def test_from_file(tmp_path):
    p = tmp_path / "cal.toml"
    p.write_text(
        'holidays = ["2027-01-01", 2027-02-08]\nworkdays = ["2027-02-06"]\n', encoding="utf-8"
    )
    cal = WorkCalendar.from_file(p)
    assert cal.holidays == {D("2027-01-01"), D("2027-02-08")}
    assert not cal.is_workday(D("2027-01-01"))
    assert not cal.is_workday(D("2027-02-08"))
    assert cal.is_workday(D("2027-02-06"))
    assert WorkCalendar.from_file(None).holidays == frozenset()


def test_from_file_names_every_bad_entry(tmp_path):
    p = tmp_path / "cal.toml"
    p.write_text(
        'holidays = ["2027-01-01", "2027-13-01", "tomorrow"]\n'
        'workdays = ["2027-01-01", 5]\n'
        "holiday = []\n",
        encoding="utf-8",
    )
    with pytest.raises(CalendarError) as e:
        WorkCalendar.from_file(p)
    errors = e.value.errors
    assert any("holidays[1]" in m and "'2027-13-01'" in m for m in errors), errors
    assert any("holidays[2]" in m and "'tomorrow'" in m for m in errors), errors
    assert any("workdays[1]" in m and "5" in m for m in errors), errors
    assert any("holiday:" in m and "unknown key" in m for m in errors), errors
    assert any("2027-01-01" in m and "both" in m for m in errors), errors
    assert all(str(p) in m for m in errors)


def test_from_file_syntax_error_and_missing_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('workdays = []\nholidays = ["2027-01-01",,]\n', encoding="utf-8")
    with pytest.raises(CalendarError) as e:
        WorkCalendar.from_file(p)
    assert "line 2" in str(e.value)
    with pytest.raises(CalendarError) as e:
        WorkCalendar.from_file(tmp_path / "nope.toml")
    assert "nope.toml" in str(e.value)
