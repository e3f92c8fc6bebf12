"""What a card shows: frozen dataclasses the handlers fill in and the builders read.

Strings here are display text already in the right language; times are aware and
already in the team's time zone. Anything that came from a person (names, titles) is
treated as untrusted by the builders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TaskView:
    task_id: int
    duty_key: str
    duty_name: str  # already in the right language
    due_at: datetime  # aware, already converted to the team's time zone
    clause: str  # the policy clause the duty comes from
    status: str  # "open", "submitted", "rejected", "approved", "done", "cancelled"
    period_label: str = ""  # e.g. "2026-W48", "2026-11"
    activity_title: str | None = None
    action: str = ""  # the task's button: "report" (submit a report), "done" (mark done), ""


@dataclass(frozen=True)
class MemberView:
    open_id: str
    name: str
    role_key: str
    role_name: str  # in the right language
    manager_name: str | None = None
    manager_open_id: str | None = None
    is_admin: bool = False
    department_name: str = ""  # shown when the deployment has several departments


@dataclass(frozen=True)
class DueView:
    member: MemberView
    now: datetime  # aware, team time zone
    tasks: tuple[TaskView, ...]
    timezone: str = "Asia/Shanghai"
    scope: str = "all"  # "all" | "week" (overdue + today + this week) | "overdue"
