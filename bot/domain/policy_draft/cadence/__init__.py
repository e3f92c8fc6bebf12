"""Time expressions in Chinese and English -> due rules of the policy format.

``find_timings(text)`` returns every cadence or deadline stated in a (normalised) sentence,
as the ``[duties.due]`` table it stands for, with review notes for whatever was guessed
(a weekday for "每周", a day for "每月"). Expressions are tried most specific first (the
Chinese rules, then the English ones, each in file order); a span taken by one is not
matched again by a vaguer one.
"""

from __future__ import annotations

import re
from typing import Any

from bot.domain.policy_draft.cadence import en, zh
from bot.domain.policy_draft.cadence.base import DEFAULT_WEEKDAY, WD_KEYS, Timing
from bot.domain.policy_draft.clock import clock_near

__all__ = ["DEFAULT_WEEKDAY", "WD_KEYS", "Timing", "find_timings"]

# Chinese first: a few of its rules also take English words and must win over en's vaguer ones
_RULES = zh.RULES + en.RULES


# ---------------------------------------------------------------------------------------


def find_timings(text: str) -> list[Timing]:
    """Every due rule stated in ``text`` (already normalised), in text order."""
    taken: list[tuple[int, int]] = []
    found: list[Timing] = []
    for priority, (pattern, handler, strength) in enumerate(_RULES):
        for m in pattern.finditer(text):
            s, e = m.span()
            if any(s < b and a < e for a, b in taken):
                continue
            result = handler(m)
            if result is None:
                continue
            rules, notes = result
            rules = [r for r in (rules if isinstance(rules, list) else [rules]) if _in_range(r)]
            if not rules:
                continue
            taken.append((s, e))
            for rule in rules:
                rule = dict(rule)
                name = rule.pop("_name", "")
                found.append(Timing(rule, s, e, m.group(0), list(notes), strength, name, priority))
    found.sort(key=lambda t: t.start)
    if _POSTPONE.search(text):  # "遇节假日顺延": a day off moves the deadline later
        for t in found:
            if "workday" in t.due:  # the Nth working day is one already
                continue
            if t.kind in ("weekly", "monthly", "quarterly", "yearly") or (
                t.kind == "activity" and t.due.get("unit") != "working"
            ):
                t.due["adjust"] = "next_workday"
    _merge_weak_days(found)
    found = _drop_vaguer(found)
    for t in found:
        if t.kind not in ("sla", "activity") or t.due.get("unit") != "working":
            hhmm = clock_near(text, t.start, t.end)
            if hhmm and t.kind != "sla":
                t.due["time"] = hhmm
    return found


def _in_range(rule: dict[str, Any]) -> bool:
    """What the policy format accepts: "0小时内" or "活动前999天" is not a rule."""
    if rule["kind"] == "sla":
        return 0 < rule["hours"] <= 24 * 366
    if rule["kind"] == "activity":
        return abs(rule["offset"]) <= 366
    return True


_POSTPONE = re.compile(r"顺延|推迟至下一个?工作日|next working day|next business day", re.I)
_EVERY = re.compile(r"每|次月|下个?月|every|each|before|by|on the", re.I)


def _drop_vaguer(found: list[Timing]) -> list[Timing]:
    """A guessed rule gives way to a stated one of the same kind; duplicates go."""
    stated = {t.kind for t in found if not t.notes}
    best: dict[str, int] = {}
    for t in found:
        best[t.kind] = max(best.get(t.kind, 0), t.strength)
    out: list[Timing] = []
    periodic = [t for t in found if t.kind not in ("sla", "activity")]
    for t in periodic:
        same = [o for o in periodic if o.kind == t.kind and o is not t]
        if same and not _EVERY.match(t.text):
            # "每年12月31日前完成年终盘点": the stated cadence wins over a word like 年终
            if any(_EVERY.match(o.text) or o.priority < t.priority for o in same):
                found = [o for o in found if o is not t]
    for t in found:
        several_ok = t.kind in ("sla", "activity")  # "24小时内回复…，立即转交…": two duties
        if t.notes and not several_ok and (t.kind in stated or t.strength < best[t.kind]):
            continue
        if any(o.due == t.due for o in out):
            continue
        out.append(t)
    return out


def _merge_weak_days(found: list[Timing]) -> None:
    """ "weekly ... on Friday": the weekday completes the weekly rule next to it."""
    weak = [t for t in found if t.due.pop("_weak_day", False)]
    for t in weak:
        weekly = [
            o
            for o in found
            if o is not t
            and o.kind == "weekly"
            and o.due.get("weekday") == DEFAULT_WEEKDAY
            and o.notes
        ]
        if weekly:
            weekly[0].due["weekday"] = t.due["weekday"]
            weekly[0].notes = []
        found.remove(t)
