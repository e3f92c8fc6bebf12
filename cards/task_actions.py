"""The per-task buttons every task-bearing card shares (what's due, task cards, reminders).

Their values are typed actions (cards/actions.py): `OpenReport` (duties with a report),
`MarkDone` (duties without one) and `Snooze` (no reminders until the next working morning).
Authority is always the clicking user.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from cards.actions import MarkDone, OpenReport, Snooze
from cards.elements import button, markdown
from cards.i18n import norm_lang

# What the assignee can do about a task: "report" (submit a report), "done" (mark done), "".
ACTION_REPORT = "report"
ACTION_DONE = "done"
ACTIONABLE_STATUSES = ("open", "rejected")

LABELS = {
    "zh": {
        "report": "提交报告",
        "resubmit": "重新提交",
        "done": "标记完成",
        "snooze": "明天再提醒",
    },
    "en": {
        "report": "Submit report",
        "resubmit": "Resubmit",
        "done": "Mark done",
        "snooze": "Remind me tomorrow",
    },
}


def primary_button(task_id: int, action: str, status: str, lang: str) -> dict | None:
    """The button that does the task: submit (or resubmit) its report, or mark it done.
    None when there is nothing for the assignee to do (submitted, closed, no action)."""
    if status not in ACTIONABLE_STATUSES or not task_id:
        return None
    L = LABELS[norm_lang(lang)]
    if action == ACTION_REPORT:
        text = L["resubmit"] if status == "rejected" else L["report"]
        return button(text, OpenReport(task_id).pack(), style="primary")
    if action == ACTION_DONE:
        return button(L["done"], MarkDone(task_id).pack(), style="primary")
    return None


def snooze_button(task_id: int, lang: str) -> dict:
    return button(LABELS[norm_lang(lang)]["snooze"], Snooze(task_id).pack(), style="default")


def with_buttons(content: dict, buttons: list[dict]) -> dict:
    """A task's text with its buttons on the right (or the text alone)."""
    if not buttons:
        return content
    return {
        "tag": "column_set",
        "flex_mode": "none",
        "horizontal_spacing": "8px",
        "columns": [
            {"tag": "column", "width": "weighted", "weight": 1, "elements": [content]},
            *(
                {"tag": "column", "width": "auto", "vertical_align": "center", "elements": [b]}
                for b in buttons
            ),
        ],
    }


def button_values(node: Any) -> Iterator[dict]:
    """Every callback value of every button in a card (or part of one)."""
    if isinstance(node, dict):
        if node.get("tag") == "button":
            for behavior in node.get("behaviors") or ():
                if isinstance(behavior, dict) and isinstance(behavior.get("value"), dict):
                    yield behavior["value"]
        for child in node.values():
            yield from button_values(child)
    elif isinstance(node, list):
        for child in node:
            yield from button_values(child)


TASK_BUTTONS = (OpenReport.name, MarkDone.name, Snooze.name)


def mark_task(card: dict, task_id: int, note: str, *, only: tuple[str, ...] = TASK_BUTTONS):
    """A copy of `card` in which the buttons of `task_id` (those named in `only`) are
    replaced by `note`, shown small beside the task; None when the card has none."""
    card = copy.deepcopy(card)
    found = False

    def is_ours(column: dict) -> bool:
        return any(v.get("a") in only and v.get("t") == task_id for v in button_values(column))

    def walk(node: Any) -> None:
        nonlocal found
        if isinstance(node, dict):
            columns = node.get("columns") if node.get("tag") == "column_set" else None
            if isinstance(columns, list) and any(is_ours(c) for c in columns[1:]):
                found = True
                kept = [columns[0], *(c for c in columns[1:] if not is_ours(c))]
                kept.append(
                    {
                        "tag": "column",
                        "width": "auto",
                        "vertical_align": "center",
                        "elements": [markdown(note, text_size="notation")],
                    }
                )
                node["columns"] = kept
                return
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(card)
    return card if found else None
