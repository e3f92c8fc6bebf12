"""The per-task buttons every task-bearing card shares (what's due, task cards, reminders).

Callback values (the contract with the handlers; authority is always the clicking user):

- ``{"a": "report.open", "v": 1, "t": <task_id>}``: open the report form (duties with a report);
- ``{"a": "task.done", "v": 1, "t": <task_id>}``: mark done (duties without a report);
- ``{"a": "task.snooze", "v": 1, "t": <task_id>}``: no reminders until the next working morning.
"""

from __future__ import annotations

from cards.elements import button
from cards.i18n import norm_lang

REPORT_OPEN = "report.open"
TASK_DONE = "task.done"
TASK_SNOOZE = "task.snooze"

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


def action_value(name: str, task_id: int) -> dict:
    return {"a": name, "v": 1, "t": task_id}


def primary_button(task_id: int, action: str, status: str, lang: str) -> dict | None:
    """The button that does the task: submit (or resubmit) its report, or mark it done.
    None when there is nothing for the assignee to do (submitted, closed, no action)."""
    if status not in ACTIONABLE_STATUSES or not task_id:
        return None
    L = LABELS[norm_lang(lang)]
    if action == ACTION_REPORT:
        text = L["resubmit"] if status == "rejected" else L["report"]
        return button(text, action_value(REPORT_OPEN, task_id), style="primary")
    if action == ACTION_DONE:
        return button(L["done"], action_value(TASK_DONE, task_id), style="primary")
    return None


def snooze_button(task_id: int, lang: str) -> dict:
    return button(
        LABELS[norm_lang(lang)]["snooze"], action_value(TASK_SNOOZE, task_id), style="default"
    )


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
