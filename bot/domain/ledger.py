"""The duty ledger: one row per task, the record a department shows an auditor — who
owed what (duty, role, clause), when it was due, when it was delivered, whether on time,
the report's status, its approver and decision, and the KPIs it missed.

Pure: rows are built from tasks, their reports and names already loaded; writing files is
the CLI's job."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.domain.departments import Policies
from bot.domain.policy import Policy
from bot.domain.roster import UNKNOWN_NAME

if TYPE_CHECKING:  # pragma: no cover - rows come from storage; the rules do not need it
    from storage.models import Report, Task

COLUMNS = (
    "task_id",
    "duty",
    "duty_key",
    "role",
    "assignee",
    "assignee_open_id",
    "period",
    "due",
    "status",
    "submitted_at",
    "on_time",
    "report_status",
    "approver",
    "decided_at",
    "kpi_misses",
    "clause",
)
HEADERS = {
    "en": dict(zip(COLUMNS, COLUMNS, strict=True)),
    "zh": dict(
        zip(
            COLUMNS,
            (
                "任务编号",
                "职责",
                "职责代号",
                "岗位",
                "负责人",
                "负责人 open_id",
                "周期",
                "截止时间",
                "状态",
                "完成/提交时间",
                "是否按时",
                "报告状态",
                "审批人",
                "审批时间",
                "KPI 未达标",
                "制度条款",
            ),
            strict=True,
        )
    ),
}
WORDS = {
    "en": {
        "yes": "yes",
        "no": "no",
        "excused": "excused (leave)",
        "missing": "missing",
        "pending": "not yet due",
        "left": " (left)",
    },
    "zh": {
        "yes": "按时",
        "no": "逾期",
        "excused": "请假免责",
        "missing": "未完成",
        "pending": "未到期",
        "left": "（已离开）",
    },
}
STATUS = {  # by task state (the values of storage.models.TaskStatus)
    "zh": {
        "open": "待办",
        "submitted": "已提交",
        "rejected": "已退回",
        "approved": "已批准",
        "done": "已完成",
        "cancelled": "已取消",
    },
}
DELIVERED = ("submitted", "approved", "done")


@dataclass(frozen=True)
class Person:
    name: str
    active: bool = True
    role_key: str = ""  # the role they hold (or held, when they left)


def delivered_at(task: Task, report: Report | None) -> datetime | None:
    """When the work was delivered: the report's (latest) submission, else done_at."""
    if task.status not in DELIVERED:
        return None
    if report is not None:
        return report.submitted_at
    return task.done_at or task.updated_at


def _kpi_misses(report: Report | None, lang: str) -> str:
    if report is None:
        return ""
    try:
        kpis = json.loads(report.kpis or "[]")
    except ValueError:
        return ""
    out = []
    ops = {">=": "≥", "<=": "≤"}
    for k in kpis if isinstance(kpis, list) else []:
        if isinstance(k, dict) and k.get("ok") is False:
            label = k.get("label_en" if lang == "en" else "label_zh") or k.get("key") or ""
            op = ops.get(str(k.get("op")), str(k.get("op") or ""))
            out.append(
                f"{label} {k.get('display', k.get('value'))} ({op} {k.get('threshold_display', k.get('threshold'))})"
            )
    return "; ".join(out)


def _role_name(role, person: Person | None, policy: Policy, lang: str) -> str:
    """The duty's role; for a duty the policy no longer has, the assignee's; never empty."""
    if role is None and person is not None:
        role = policy.roles.get(person.role_key)
        if role is None and person.role_key:
            return person.role_key
    return role.name(lang) if role else "—"


def build_rows(
    tasks: Iterable[Task],
    reports: Mapping[int, Report],
    people: Mapping[str, Person],
    policy: Policy | Policies,
    tz: ZoneInfo,
    now: datetime,
    on_leave: Callable[[str, datetime], bool],
    lang: str = "en",
) -> list[dict]:
    """One dict per task, keyed by COLUMNS; datetimes aware in the team's time zone. With
    several departments, each task's duty and role come from its department's policy."""
    words = WORDS[lang]
    rows = []
    for task in tasks:
        pol = (
            policy.get(getattr(task, "department", None))
            if isinstance(policy, Policies)
            else policy
        )
        duty = pol.duties.get(task.duty_key)
        role = pol.roles.get(duty.role) if duty else None
        report = reports.get(task.id) if task.id is not None else None
        done = delivered_at(task, report)
        if done is not None:
            on_time = words["yes"] if done <= task.due_at else words["no"]
        elif task.status == "cancelled":
            on_time = ""
        elif on_leave(task.assignee_open_id, task.due_at):
            on_time = words["excused"]
        else:
            on_time = words["missing"] if task.due_at <= now else words["pending"]
        person = people.get(task.assignee_open_id)
        assignee = UNKNOWN_NAME[lang]  # the open_id has its own column
        if person is not None:
            assignee = person.name + ("" if person.active else words["left"])
        approver = ""
        if report is not None and (report.decided_by or report.approver_open_id):
            who = people.get(report.decided_by or report.approver_open_id or "")
            approver = who.name + ("" if who.active else words["left"]) if who else "—"
        rows.append(
            {
                "task_id": task.id,
                "duty": duty.name(lang) if duty else task.duty_key,
                "duty_key": task.duty_key,
                "role": _role_name(role, person, pol, lang),
                "assignee": assignee,
                "assignee_open_id": task.assignee_open_id,
                "period": task.period_key,
                "due": task.due_at.astimezone(tz),
                "status": STATUS.get(lang, {}).get(task.status, task.status),
                "submitted_at": done.astimezone(tz) if done else None,
                "on_time": on_time,
                "report_status": STATUS.get(lang, {}).get(report.status, report.status)
                if report
                else "",
                "approver": approver,
                "decided_at": report.decided_at.astimezone(tz)
                if report and report.decided_at
                else None,
                "kpi_misses": _kpi_misses(report, lang),
                "clause": duty.clause if duty else "",
            }
        )
    return rows
