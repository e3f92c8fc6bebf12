"""Mainland-China working days: official data from ``chinesecalendar`` plus admin overrides.

Resolution order for a date:

1. the override file (``holidays`` / ``workdays`` lists), if it names the date;
2. the official data shipped with ``chinesecalendar`` (statutory holidays off, make-up
   working days 调休 on), for the years it covers (1.11.0: 2004-2026);
3. otherwise (a year the package has no data for): the statutory holidays fixed by
   《全国年节及纪念日放假办法》 (computed in ``bot.domain.statutory``) and weekends off,
   Monday-Friday on. Only the State Council's 调休 arrangements (make-up working days,
   bridging days) are unknown: they belong in the override file, which then says
   ``confirmed_years = [2027]`` to mark the year as checked.

Nothing here raises for a date outside the package's range. No I/O except
``WorkCalendar.from_file``.

Override file (TOML)::

    # dates off that the official data does not know (or that the company adds)
    holidays = ["2027-01-01", "2027-02-08"]
    # dates on that would otherwise be off (make-up working days)
    workdays = ["2027-02-06"]
    # years whose overrides are complete: admins stop being asked to confirm them
    confirmed_years = [2027]

Dates may be strings ``"YYYY-MM-DD"`` or TOML local dates (``2027-01-01``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar

from bot.domain.statutory import statutory_holidays

__all__ = ["CalendarError", "WorkCalendar"]

# previous_workday/next_workday give up after this many days (only reachable with an
# absurd override file).
_MAX_SCAN_DAYS = 3660


class CalendarError(ValueError):
    """A bad override file or override list. ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _as_date(d: date) -> date:
    if isinstance(d, datetime):
        return d.date()
    if not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}")
    return d


class WorkCalendar:
    """Working-day arithmetic on the mainland-China calendar with overrides."""

    def __init__(
        self,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        confirmed_years: Iterable[int] = (),
    ):
        hol = frozenset(_as_date(d) for d in holidays)
        work = frozenset(_as_date(d) for d in workdays)
        both = sorted(hol & work)
        if both:
            raise CalendarError(
                [f"{d.isoformat()}: listed both as a holiday and as a working day" for d in both]
            )
        self._holidays = hol
        self._workdays = work
        self._confirmed = frozenset(int(y) for y in confirmed_years)
        self._cache: dict[date, bool] = {}
        self._official_years: dict[int, bool] = {}

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> WorkCalendar:
        """Build a calendar from an override file; ``None`` means no overrides."""
        if path is None:
            return cls()
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise CalendarError([f"{p}: cannot read file: {e.strerror or e}"]) from e
        except UnicodeDecodeError as e:
            raise CalendarError([f"{p}: not UTF-8 text: {e}"]) from e
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise CalendarError([f"{p}: {e}"]) from e

        errors: list[str] = []
        for key in data:
            if key not in ("holidays", "workdays", "confirmed_years"):
                errors.append(
                    f"{p}: {key}: unknown key (expected holidays, workdays, confirmed_years)"
                )
        lists: dict[str, list[date]] = {"holidays": [], "workdays": []}
        for name in ("holidays", "workdays"):
            raw = data.get(name, [])
            if not isinstance(raw, list):
                errors.append(f"{p}: {name}: expected a list of dates")
                continue
            seen: set[date] = set()
            for i, item in enumerate(raw):
                d = _parse_date(item)
                if d is None:
                    errors.append(f"{p}: {name}[{i}]: {item!r} is not a date (expected YYYY-MM-DD)")
                    continue
                if d in seen:
                    continue  # a repeated date is harmless
                seen.add(d)
                lists[name].append(d)
        for d in sorted(set(lists["holidays"]) & set(lists["workdays"])):
            errors.append(f"{p}: {d.isoformat()}: listed both in holidays and in workdays")
        confirmed = data.get("confirmed_years", [])
        if not isinstance(confirmed, list) or not all(
            isinstance(y, int) and not isinstance(y, bool) and 1900 <= y <= 2100 for y in confirmed
        ):
            errors.append(f"{p}: confirmed_years: expected a list of years, e.g. [2027]")
            confirmed = []
        if errors:
            raise CalendarError(errors)
        return cls(
            holidays=lists["holidays"], workdays=lists["workdays"], confirmed_years=confirmed
        )

    @property
    def holidays(self) -> frozenset[date]:
        return self._holidays

    @property
    def workdays(self) -> frozenset[date]:
        return self._workdays

    # -- queries -----------------------------------------------------------------------

    def has_official_data(self, year: int) -> bool:
        """True if ``chinesecalendar`` has official holiday data for ``year``."""
        known = self._official_years.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(date(year, 6, 30))
                known = True
            except (NotImplementedError, ValueError):
                known = False
            self._official_years[year] = known
        return known

    def is_confirmed(self, year: int) -> bool:
        """True when ``year``'s calendar is known: official data, or an override file that
        says so (``confirmed_years``). Holding one date of a year does not confirm it."""
        return year in self._confirmed or self.has_official_data(year)

    def holiday_name(self, d: date) -> str | None:
        """The statutory holiday ``d`` falls on, for a year without official data."""
        d = _as_date(d)
        if self.has_official_data(d.year):
            return None
        return statutory_holidays(d.year).get(d)

    def is_workday(self, d: date) -> bool:
        d = _as_date(d)
        cached = self._cache.get(d)
        if cached is not None:
            return cached
        if d in self._workdays:
            result = True
        elif d in self._holidays:
            result = False
        elif self.has_official_data(d.year):
            try:
                result = bool(chinese_calendar.is_workday(d))
            except (NotImplementedError, ValueError):
                result = d.weekday() < 5
        else:
            result = d.weekday() < 5 and d not in statutory_holidays(d.year)
        self._cache[d] = result
        return result

    def is_holiday(self, d: date) -> bool:
        """A day off (weekend, statutory holiday or override), i.e. not a working day."""
        return not self.is_workday(d)

    def previous_workday(self, d: date) -> date:
        """``d`` itself if it is a working day, else the closest working day before it."""
        return self._scan(_as_date(d), -1)

    def next_workday(self, d: date) -> date:
        """``d`` itself if it is a working day, else the closest working day after it."""
        return self._scan(_as_date(d), 1)

    def add_workdays(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (before it if ``n`` < 0), not counting ``d``.

        ``add_workdays(d, 0)`` is ``d`` unchanged (even on a day off).
        """
        d = _as_date(d)
        step = 1 if n > 0 else -1
        remaining = abs(n)
        while remaining:
            d += timedelta(days=step)
            if self.is_workday(d):
                remaining -= 1
        return d

    def workdays_between(self, a: date, b: date) -> int:
        """Working days from ``a`` to ``b``: the count of working days in ``(a, b]``.

        Negative when ``b`` is before ``a`` (minus the count in ``[b, a)``), so that
        ``add_workdays(a, workdays_between(a, b)) == b`` whenever ``b`` is a working day.
        E.g. a task due on ``a`` and still open on ``b`` is that many working days late.
        """
        a, b = _as_date(a), _as_date(b)
        if a == b:
            return 0
        if b > a:
            lo, hi, sign = a + timedelta(days=1), b, 1
        else:
            lo, hi, sign = b, a - timedelta(days=1), -1
        count = 0
        d = lo
        while d <= hi:
            if self.is_workday(d):
                count += 1
            d += timedelta(days=1)
        return sign * count

    def _scan(self, d: date, step: int) -> date:
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_workday(d):
                return d
            d += timedelta(days=step)
        raise CalendarError([f"no working day within {_MAX_SCAN_DAYS} days of {d.isoformat()}"])


def _parse_date(item: object) -> date | None:
    if isinstance(item, datetime):
        return None  # a date-time is not a date: be strict
    if isinstance(item, date):
        return item
    if isinstance(item, str):
        try:
            if len(item) != 10:
                return None
            return date.fromisoformat(item)
        except ValueError:
            return None
    return None
