"""Announcing an activity's work: the card each assignee gets (their tasks, due dates and
buttons) and the short plan summary for the team chat. Also used when an activity moves
or is cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from cards.elements import card, fit_card, hr, markdown, md_text, plain_str
from cards.i18n import format_day_time, norm_lang
from cards.task_actions import primary_button, with_buttons

TITLE_CHARS = 60
NAME_CHARS = 40
DUTY_CHARS = 60
CLAUSE_CHARS = 80
MAX_LINES = 40


@dataclass(frozen=True)
class ActivityView:
    activity_id: int
    title: str
    mode: str  # online | offline | hybrid
    start: date
    end: date
    owner_name: str
    budget: float | None = None
    expected_attendance: int | None = None
    status: str = "active"


@dataclass(frozen=True)
class TaskLine:
    task_id: int
    duty_name: str
    due_at: datetime  # aware, team time zone
    status: str = "open"
    action: str = ""  # "report" | "done" | ""
    clause: str = ""
    assignee_name: str = ""
    previous_due_at: datetime | None = None  # when the date changed (a move)
    clamped: bool = False  # the policy date had already passed: due on the next working day


LABELS = {
    "zh": {
        "new_title": "新任务 · {title}",
        "moved_title": "活动改期 · {title}",
        "cancelled_title": "活动取消 · {title}",
        "plan_title": "活动计划 · {title}",
        "new_intro": "你在活动「{title}」中有 {n} 项任务：",
        "moved_intro": "活动「{title}」改期了，你的任务截止时间已更新：",
        "cancelled_intro": "活动「{title}」已取消，下列未完成的任务已取消：",
        "summary_new": "{title}：{n} 项任务已分配",
        "summary_moved": "{title} 改期：{n} 项任务已更新",
        "summary_cancelled": "{title} 已取消",
        "when": "时间",
        "mode": "形式",
        "owner": "负责人",
        "budget": "预算",
        "expected": "预计到场",
        "due": "截止",
        "was": "原为 {when}",
        "clamped": "按制度应更早完成，已顺延到下一个工作日",
        "clause": "依据",
        "modes": {"online": "线上", "offline": "线下", "hybrid": "线上+线下"},
        "yuan": "{n} 元",
        "people": "{n} 人",
        "tasks": "**任务分工**",
        "more": "还有 {n} 项未显示。",
        "colon": "：",
        "none": "（没有需要分配的任务）",
        "id": "活动编号 {id}",
    },
    "en": {
        "new_title": "New tasks · {title}",
        "moved_title": "Activity moved · {title}",
        "cancelled_title": "Activity cancelled · {title}",
        "plan_title": "Activity plan · {title}",
        "new_intro": 'You have {n} task(s) for the activity "{title}":',
        "moved_intro": 'The activity "{title}" moved; your due dates are updated:',
        "cancelled_intro": 'The activity "{title}" is cancelled; these open tasks are cancelled:',
        "summary_new": "{title}: {n} tasks assigned",
        "summary_moved": "{title} moved: {n} tasks updated",
        "summary_cancelled": "{title} cancelled",
        "when": "When",
        "mode": "Format",
        "owner": "Owner",
        "budget": "Budget",
        "expected": "Expected attendance",
        "due": "Due",
        "was": "was {when}",
        "clamped": "the policy date has passed: due on the next working day",
        "clause": "Policy",
        "modes": {"online": "Online", "offline": "Offline", "hybrid": "Online + offline"},
        "yuan": "¥{n}",
        "people": "{n}",
        "tasks": "**Who does what**",
        "more": "{n} more not shown.",
        "colon": ": ",
        "none": "(no tasks to assign)",
        "id": "Activity #{id}",
    },
}


def _money(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def _dates(a: ActivityView, lang: str) -> str:
    if a.start == a.end:
        return a.start.isoformat()
    return f"{a.start.isoformat()} – {a.end.isoformat()}"


def activity_facts(a: ActivityView, lang: str) -> str:
    """Markdown lines: when, format, owner, budget, expected attendance (escaped)."""
    L = LABELS[norm_lang(lang)]
    c = L["colon"]
    lines = [
        f"**{L['when']}**{c}{_dates(a, lang)}",
        f"**{L['mode']}**{c}{L['modes'].get(a.mode, md_text(a.mode, 20))}",
        f"**{L['owner']}**{c}{md_text(a.owner_name, NAME_CHARS) or '—'}",
    ]
    if a.budget is not None:
        lines.append(f"**{L['budget']}**{c}{L['yuan'].format(n=_money(a.budget))}")
    if a.expected_attendance is not None:
        lines.append(f"**{L['expected']}**{c}{L['people'].format(n=a.expected_attendance)}")
    return "\n".join(lines)


def _line(t: TaskLine, lang: str, now: datetime | None, *, with_assignee: bool) -> str:
    L = LABELS[norm_lang(lang)]
    c = L["colon"]
    head = f"**{md_text(t.duty_name, DUTY_CHARS) or '—'}**"
    if with_assignee:
        head += f" · {md_text(t.assignee_name, NAME_CHARS) or '—'}"
    when = f"{L['due']}{c}{format_day_time(t.due_at, lang, ref=now)}"
    if t.previous_due_at is not None and t.previous_due_at != t.due_at:
        was = format_day_time(t.previous_due_at, lang, ref=now)
        when += f" · <font color='grey'>{L['was'].format(when=was)}</font>"
    if t.clamped:
        when += f" · <font color='orange'>{L['clamped']}</font>"
    lines = [head, when]
    if t.clause and not with_assignee:
        lines.append(f"<font color='grey'>{L['clause']}{c}{md_text(t.clause, CLAUSE_CHARS)}</font>")
    return "\n".join(lines)


def build_task_card(
    activity: ActivityView,
    tasks: list[TaskLine],
    lang: str,
    *,
    kind: str = "new",
    now: datetime | None = None,
) -> dict:
    """One assignee's tasks for one activity, each with its button (submit / mark done).
    `kind`: "new", "moved" or "cancelled" (no buttons)."""
    lang = norm_lang(lang)
    L = LABELS[lang]
    title = plain_str(activity.title, TITLE_CHARS) or "—"
    shown = tasks[:MAX_LINES]
    body: list[dict] = [
        markdown(
            L[f"{kind}_intro"].format(title=md_text(activity.title, TITLE_CHARS), n=len(tasks))
        ),
        markdown(activity_facts(activity, lang), text_size="notation"),
        hr(),
    ]
    for t in shown:
        content = markdown(_line(t, lang, now, with_assignee=False))
        buttons = (
            [] if kind == "cancelled" else [primary_button(t.task_id, t.action, t.status, lang)]
        )
        body.append(with_buttons(content, [b for b in buttons if b]))
    if len(tasks) > len(shown):
        body.append(markdown(L["more"].format(n=len(tasks) - len(shown)), text_size="notation"))
    template = {"new": "blue", "moved": "orange", "cancelled": "grey"}.get(kind, "blue")
    c = card(
        title=L[f"{kind}_title"].format(title=title),
        subtitle=L["id"].format(id=activity.activity_id),
        template=template,
        summary=L[f"summary_{kind}"].format(title=title, n=len(tasks)),
        elements=body,
    )
    return fit_card(c)


def build_plan_summary_card(
    activity: ActivityView,
    tasks: list[TaskLine],
    lang: str,
    *,
    kind: str = "new",
    now: datetime | None = None,
) -> dict:
    """The team chat's view of an activity: its facts and who does what by when."""
    lang = norm_lang(lang)
    L = LABELS[lang]
    title = plain_str(activity.title, TITLE_CHARS) or "—"
    body: list[dict] = [markdown(activity_facts(activity, lang))]
    if kind != "cancelled":
        body.append(hr())
        body.append(markdown(L["tasks"]))
        ordered = sorted(tasks, key=lambda t: (t.due_at, t.duty_name))
        if not ordered:
            body.append(markdown(L["none"], text_size="notation"))
        lines = [_line(t, lang, now, with_assignee=True) for t in ordered[:MAX_LINES]]
        if lines:
            body.append(markdown("\n\n".join(lines)))
        if len(ordered) > MAX_LINES:
            body.append(
                markdown(L["more"].format(n=len(ordered) - MAX_LINES), text_size="notation")
            )
    head = {"new": "plan_title", "moved": "moved_title", "cancelled": "cancelled_title"}[kind]
    template = {"new": "turquoise", "moved": "orange", "cancelled": "grey"}[kind]
    c = card(
        title=L[head].format(title=title),
        subtitle=L["id"].format(id=activity.activity_id),
        template=template,
        summary=L[f"summary_{kind}"].format(title=title, n=len(tasks)),
        elements=body,
    )
    return fit_card(c)


__all__ = [
    "ActivityView",
    "TaskLine",
    "activity_facts",
    "build_plan_summary_card",
    "build_task_card",
]
