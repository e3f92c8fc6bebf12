"""Telling the admins, once per year, that a year's working-day calendar needs confirming.

`chinesecalendar` only knows the years the State Council has published. For a later year
DutyBot falls back to Monday–Friday plus the override file (`DUTYBOT_CALENDAR`) and keeps
working; the admins get one message per year (a `calendar:<year>` marker written in the same
transaction as the messages, so restarts and replicas never repeat it) and a log line."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.roster import Roster
from bot.domain.workcalendar import WorkCalendar
from cards.notice import build_notice_card
from storage.models import Marker
from storage.outbox import enqueue
from storage.queue import insert_ignore
from storage.reminders import existing_markers

log = logging.getLogger("dutybot.calendar")

TEXT = {
    "zh": (
        "{year} 年的放假安排还没有官方数据（已安装的 chinesecalendar 只到 {last} 年）。"
        "目前按《全国年节及纪念日放假办法》计算法定节假日（元旦、春节除夕至初三、清明、劳动节、"
        "端午、中秋、国庆）并按周末休息，但国务院公布的调休上班日还不知道。\n"
        "公布后请在日历覆盖文件（DUTYBOT_CALENDAR）中写入调休上班日和调整的休息日，并确认该年，例如：\n"
        'holidays = ["{year}-10-04", …]\nworkdays = ["{year}-02-20", …]\n'
        "confirmed_years = [{year}]\n"
        "或升级 chinesecalendar。"
    ),
    "en": (
        "There is no official holiday schedule for {year} yet (the installed chinesecalendar "
        "ends in {last}). Deadlines and reminders use the statutory holidays (New Year, "
        "Spring Festival eve to day 3, Qingming, Labour Day, Dragon Boat, Mid-Autumn, "
        "National Day) and weekends, but not the make-up working days the State Council "
        "will announce. Once announced, put them in the calendar override file "
        "(DUTYBOT_CALENDAR) with `confirmed_years = [{year}]`, or upgrade chinesecalendar."
    ),
}


def years_needing_confirmation(calendar: WorkCalendar, years: Iterable[int]) -> list[int]:
    """Years with no official data that no override file confirms: their statutory
    holidays are computed, but the 调休 make-up working days are a guess."""
    return sorted(y for y in set(years) if not calendar.is_confirmed(y))


def last_official_year(calendar: WorkCalendar, around: int) -> int:
    year = around
    while year > 2000 and not calendar.has_official_data(year):
        year -= 1
    return year


async def notify_unconfirmed_years(
    session: AsyncSession,
    calendar: WorkCalendar,
    roster: Roster,
    years: Iterable[int],
    now: datetime,
) -> list[int]:
    """Queue one notice per unconfirmed year to every admin (once ever per year). Does
    not commit: the caller commits the marker and the messages together."""
    told: list[int] = []
    unconfirmed = years_needing_confirmation(calendar, years)
    if not unconfirmed:
        return told
    done = await existing_markers(session, [f"calendar:{y}" for y in unconfirmed])
    for year in unconfirmed:
        key = f"calendar:{year}"
        if key in done or not await insert_ignore(
            session, Marker, {"key": key, "created_at": now}, "key"
        ):
            continue
        last = last_official_year(calendar, year)
        log.warning(
            "no official holiday data for %d (chinesecalendar ends in %d): using statutory "
            "holidays, weekends and the override file; the admins have been asked to confirm",
            year,
            last,
        )
        title = f"{year} 年工作日历需要确认 / Confirm the {year} calendar"
        text = (
            TEXT["zh"].format(year=year, last=last)
            + "\n\n"
            + TEXT["en"].format(year=year, last=last)
        )
        body = build_notice_card(title, text, "zh", template="orange")
        for admin in roster.admins():
            digest = hashlib.sha256(f"{key}:{admin.open_id}".encode()).hexdigest()[:40]
            await enqueue(
                session,
                uuid=f"cal{digest}",
                now=now,
                kind="send",
                body=body,
                receive_id_type="open_id",
                receive_id=admin.open_id,
            )
        told.append(year)
    return told
