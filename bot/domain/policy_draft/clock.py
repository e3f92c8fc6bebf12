"""The time of day stated next to a cadence: "每周一上午10点前", "every Friday by 5 pm"."""

from __future__ import annotations

import re

_ZH_CLOCK = re.compile(
    r"^\s*(?:的)?\s*(上午|下午|晚上|中午|早上|傍晚)?\s*(\d{1,2})\s*(?::(\d{2})|点\s*(半|(\d{1,2})\s*分?)?|时)"
)
_EN_CLOCK = re.compile(
    r"(?:by|before|at|no later than)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d/])",
    re.IGNORECASE,
)


def clock_near(text: str, start: int, end: int) -> str | None:
    """The "HH:MM" stated right after (or, in English, around) a cadence, if any."""
    after = text[end : end + 16]
    m = _ZH_CLOCK.match(after)
    if m:
        h = int(m.group(2))
        minutes = 30 if m.group(4) == "半" else int(m.group(3) or m.group(5) or 0)
        if m.group(1) in ("下午", "晚上", "傍晚") and h < 12:
            h += 12
        return _hhmm(h, minutes)
    if re.match(r"^\s*(?:的)?\s*中午(?:之?前)?", after):
        return "12:00"
    window = text[max(0, start - 24) : end + 24]
    for m in _EN_CLOCK.finditer(window):
        h, minutes, ampm = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").lower()
        if not ampm and not m.group(2):
            continue  # "by 5" is a day, not a time
        if ampm.startswith("p") and h < 12:
            h += 12
        elif ampm.startswith("a") and h == 12:
            h = 0
        return _hhmm(h, minutes)
    return None


def _hhmm(h: int, m: int) -> str | None:
    return f"{h:02d}:{m:02d}" if 0 <= h <= 23 and 0 <= m <= 59 else None
