"""Language selection and date formatting shared by the card builders.

Builders take ``lang`` ("zh" or "en") and keep their own label dicts; this module only
holds what several builders need.
"""

from __future__ import annotations

from datetime import datetime

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

_WEEKDAYS = {
    "zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def norm_lang(lang: str | None) -> str:
    """ "zh", "zh_cn", "zh-CN" -> "zh"; "en", "en_us" -> "en"; anything else -> "zh"."""
    code = (lang or "").strip().lower()
    if code.startswith("en"):
        return "en"
    if code.startswith("zh"):
        return "zh"
    return DEFAULT_LANG


def weekday_name(dt: datetime, lang: str) -> str:
    return _WEEKDAYS[norm_lang(lang)][dt.weekday()]


def format_day_time(dt: datetime, lang: str, *, ref: datetime | None = None) -> str:
    """ "11-27 周五 18:00" / "Fri 27 Nov 18:00"; the year is added when it differs from
    `ref`'s. `dt` is shown in its own time zone: convert it first."""
    lang = norm_lang(lang)
    with_year = ref is not None and dt.year != ref.year
    wd = weekday_name(dt, lang)
    hm = f"{dt.hour:02d}:{dt.minute:02d}"
    if lang == "zh":
        day = (
            f"{dt.year}-{dt.month:02d}-{dt.day:02d}"
            if with_year
            else f"{dt.month:02d}-{dt.day:02d}"
        )
        return f"{day} {wd} {hm}"
    year = f" {dt.year}" if with_year else ""
    return f"{wd} {dt.day} {_MONTHS_EN[dt.month - 1]}{year} {hm}"


def t(lang: str, zh: str, en: str) -> str:
    """The one zh/en text idiom: both wordings side by side where the text is used."""
    return en if norm_lang(lang) == "en" else zh
