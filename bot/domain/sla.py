"""Clocks that start in chat: a team member logs a user question or complaint, and the
policy's SLA duties for that trigger become tasks. The pure half: which trigger a message
names, who owns each task, when it is due. The I/O half is ``handlers/sla.py`` with
``storage/sla.py``.

* A message logs a trigger when it starts with one of the trigger's words and a colon
  (full- or half-width, spaces allowed): ``咨询：…``, ``投诉:…``, ``Question: …``. English
  words match without regard to case. The rest of the message is the logged text.
* The owner of each task is the logger when they hold the duty's role; otherwise the
  member of that role with the fewest open tasks, someone on leave today only when all are
  (ties: the earliest name, then open_id), so hand-overs spread over a role with several
  people.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.policy import Duty, Policy, Trigger
from bot.domain.schedule import sla_due
from bot.domain.workcalendar import WorkCalendar

MAX_SUBJECT = 2000  # characters of the logged text kept on the task


@dataclass(frozen=True)
class Logged:
    """A message that logs a trigger: the trigger and the text after the colon."""

    trigger: Trigger
    text: str
    lang: str = "zh"  # the language of the word used: "question:" answers in English


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def match_trigger(policy: Policy, text: str) -> Logged | None:
    """The trigger a message logs (``咨询：…``), or None. The text may be empty (the user
    wrote only ``咨询：``): the caller asks for it."""
    head = text.lstrip()
    # NFKC turns the full-width colon into ":", and full-width letters into ASCII
    folded = _fold(head[:40])
    best: tuple[int, Trigger, str] | None = None
    for trigger in policy.triggers.values():
        for word in trigger.words:
            w = _fold(word)
            if folded.startswith(w) and (best is None or len(w) > best[0]):
                rest = folded[len(w) :].lstrip(" \u3000")
                if rest.startswith(":"):
                    best = (len(w), trigger, "en" if word in trigger.words_en else "zh")
    if best is None:
        return None
    # Find the colon in the original text (the folded one may differ in length).
    m = re.match(r"[^:：﹕︓]*[:：﹕︓]", head)
    body = head[m.end() :] if m else ""
    return Logged(best[1], body.strip()[:MAX_SUBJECT], best[2])


def choose_owner(
    duty: Duty,
    logger_open_id: str,
    logger_role: str | None,
    holders: Sequence[tuple[str, str, int, bool]],
) -> str | None:
    """Who owns the task of `duty`: the logger when they hold its role, otherwise the
    holder with the fewest open tasks, preferring those not on leave today. `holders`:
    (open_id, name, open task count, on leave) of the active members of the duty's role.
    None when nobody holds the role."""
    if logger_role == duty.role:
        return logger_open_id
    if not holders:
        return None
    return min(holders, key=lambda h: (h[3], h[2], h[1], h[0]))[0]


def due_at(
    policy: Policy, calendar: WorkCalendar, tz: ZoneInfo, duty: Duty, logged_at: datetime
) -> datetime:
    """When the task of an SLA duty logged at `logged_at` is due (aware UTC)."""
    return sla_due(duty.due, logged_at, tz, calendar, policy.working_hours)


def period_key(message_id: str) -> str:
    """The task key part that makes a logged message's tasks unique: the same message
    delivered (or forwarded and chosen) twice makes one task per duty."""
    return f"msg:{message_id}"[:64]
