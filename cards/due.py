"""The "what's due" card: a member's open tasks grouped by urgency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cards.actions import RefreshDue
from cards.elements import (
    CARD_BUDGET_BYTES,
    button,
    card,
    card_size,
    fit_card,
    hr,
    json_size,
    markdown,
    md_text,
    plain_str,
    text_tag,
)
from cards.i18n import format_day_time, norm_lang
from cards.task_actions import primary_button, with_buttons
from cards.views import DueView, TaskView

MAX_TASKS = 30

ACTIVE_STATUSES = ("open", "submitted", "rejected")
CLOSED_STATUSES = ("approved", "done", "cancelled")

# Group keys in display order.
OVERDUE, TODAY, WEEK, LATER, WAITING = "overdue", "today", "week", "later", "waiting"
GROUP_ORDER = (OVERDUE, TODAY, WEEK, LATER, WAITING)
SCOPES = {
    "all": GROUP_ORDER,
    "week": (OVERDUE, TODAY, WEEK, WAITING),
    "overdue": (OVERDUE,),
}

LABELS = {
    "zh": {
        "title": {"all": "待办 · {name}", "week": "本周待办 · {name}", "overdue": "逾期 · {name}"},
        OVERDUE: "已逾期",
        TODAY: "今天到期",
        WEEK: "本周稍后",
        LATER: "以后",
        WAITING: "已提交 · 等待审批",
        "count": "（{n}）",
        "submitted": "待审批",
        "rejected": "被退回 · 需重做",
        "due": "截止",
        "clause": "依据",
        "overdue_days": "逾期 {n} 天",
        "overdue_hours": "逾期 {n} 小时",
        "overdue_minutes": "逾期 {n} 分钟",
        "more": "还有 {n} 项未显示。",
        "empty": {
            "all": "目前没有待办事项，干得好！🎉",
            "week": "本周没有待办事项。🎉",
            "overdue": "没有逾期的任务。👍",
        },
        "refresh": "刷新",
        "updated": "更新于 {when}",
        "summary_empty": "没有待办",
        "summary": {
            OVERDUE: "{n} 项逾期",
            TODAY: "今天 {n} 项",
            WEEK: "本周 {n} 项",
            LATER: "以后 {n} 项",
            WAITING: "{n} 项待审批",
        },
        "sep": "，",
        "colon": "：",
        "tag": {OVERDUE: "逾期 {n}", TODAY: "今天 {n}"},
    },
    "en": {
        "title": {
            "all": "What's due · {name}",
            "week": "Due this week · {name}",
            "overdue": "Overdue · {name}",
        },
        OVERDUE: "Overdue",
        TODAY: "Due today",
        WEEK: "Later this week",
        LATER: "Later",
        WAITING: "Submitted · waiting for approval",
        "count": " ({n})",
        "submitted": "Waiting for approval",
        "rejected": "Rejected · needs redo",
        "due": "Due",
        "clause": "Policy",
        "overdue_days": "{n} d overdue",
        "overdue_hours": "{n} h overdue",
        "overdue_minutes": "{n} min overdue",
        "more": "{n} more not shown.",
        "empty": {
            "all": "Nothing due right now. Nice work! 🎉",
            "week": "Nothing due this week. 🎉",
            "overdue": "Nothing is overdue. 👍",
        },
        "refresh": "Refresh",
        "updated": "Updated {when}",
        "summary_empty": "Nothing due",
        "summary": {
            OVERDUE: "{n} overdue",
            TODAY: "{n} due today",
            WEEK: "{n} this week",
            LATER: "{n} later",
            WAITING: "{n} awaiting approval",
        },
        "sep": ", ",
        "colon": ": ",
        "tag": {OVERDUE: "{n} overdue", TODAY: "{n} today"},
    },
}

GROUP_COLOR = {OVERDUE: "red", TODAY: "orange", WEEK: "blue", LATER: "grey", WAITING: "grey"}

NAME_CHARS = 40
DUTY_CHARS = 60
PERIOD_CHARS = 20
ACTIVITY_CHARS = 60
CLAUSE_CHARS = 80


@dataclass(frozen=True)
class _Item:
    task: TaskView
    due: datetime  # in the team time zone


def group_tasks(view: DueView) -> dict[str, list[TaskView]]:
    """Split the active tasks of `view` into display groups (closed ones are dropped).

    - overdue: open or rejected, ``due_at < now``;
    - waiting: submitted and ``due_at < now`` (nothing left for the member to do);
    - today: due on ``now``'s date (team time zone);
    - week: due later in ``now``'s ISO week (Mon–Sun);
    - later: everything after that.
    Each group is sorted by due time, then task id. Unknown statuses count as open.
    """
    tz = _team_tz(view)
    now = _local(view.now, tz)
    today = now.date()
    week_end = today + timedelta(days=6 - today.weekday())
    groups: dict[str, list[_Item]] = {key: [] for key in GROUP_ORDER}
    for task in view.tasks:
        if task.status in CLOSED_STATUSES:
            continue
        due = _local(task.due_at, tz)
        groups[_group_of(task.status, due, now, today, week_end)].append(_Item(task, due))
    return {
        key: [i.task for i in sorted(items, key=lambda i: (i.due, i.task.task_id))]
        for key, items in groups.items()
    }


def _group_of(status: str, due: datetime, now: datetime, today: date, week_end: date) -> str:
    if due < now:
        return WAITING if status == "submitted" else OVERDUE
    if due.date() == today:
        return TODAY
    if due.date() <= week_end:
        return WEEK
    return LATER


def build_due_card(view: DueView, lang: str) -> dict:
    """The member's open tasks, grouped overdue / today / this week / later / waiting."""
    lang = norm_lang(lang)
    L = LABELS[lang]
    scope = view.scope if view.scope in SCOPES else "all"
    tz = _team_tz(view)
    now = _local(view.now, tz)
    all_groups = group_tasks(view)
    groups = {key: all_groups[key] for key in SCOPES[scope] if all_groups[key]}
    total = sum(len(tasks) for tasks in groups.values())

    name = plain_str(view.member.name, NAME_CHARS) or "—"
    counts = {key: len(tasks) for key, tasks in groups.items()}
    summary = L["sep"].join(L["summary"][k].format(n=n) for k, n in counts.items())
    tags = [
        text_tag(L["tag"][key].format(n=counts[key]), GROUP_COLOR[key])
        for key in (OVERDUE, TODAY)
        if counts.get(key)
    ]
    if counts.get(OVERDUE):
        template = "red"
    elif any(t.status != "submitted" for t in groups.get(TODAY, ())):
        template = "orange"
    elif total:
        template = "blue"
    else:
        template = "green"

    # "o" (whose list) lets the handler refuse a click on someone else's card; "l" keeps the language.
    value = RefreshDue(view.member.open_id, lang, scope).pack()
    footer = [
        markdown(L["updated"].format(when=format_day_time(now, lang)), text_size="notation"),
        button(L["refresh"], value, style="default"),
    ]
    result = card(
        title=L["title"][scope].format(name=name),
        subtitle=plain_str(view.member.role_name, NAME_CHARS) or None,
        template=template,
        tags=tags,
        summary=summary or L["summary_empty"],
        elements=[],
    )

    if not total:
        result["body"]["elements"] = [markdown(L["empty"][scope]), *footer]
        return fit_card(result, keep_tail=len(footer))

    # Budget: what the skeleton, the footer and a worst-case "N more" line leave free.
    more_probe = markdown(L["more"].format(n=99999), text_size="notation")
    fixed = card_size(result) + sum(json_size(e) + 2 for e in (*footer, more_probe, hr()))
    budget = CARD_BUDGET_BYTES - fixed

    body: list[dict] = []
    shown = 0
    stop = False
    for key, tasks in groups.items():
        heading = markdown(
            f"<font color='{GROUP_COLOR[key]}'>**{L[key]}{L['count'].format(n=len(tasks))}**</font>"
        )
        pending = [heading]
        for task in tasks:
            if shown >= MAX_TASKS:
                stop = True
                break
            el = _task_element(task, _local(task.due_at, tz), now, key, lang)
            cost = sum(json_size(e) + 2 for e in (*pending, el))
            if cost > budget:
                stop = True
                break
            budget -= cost
            body.extend(pending)
            pending = []
            body.append(el)
            shown += 1
        if stop:
            break

    if shown < total:
        body.append(markdown(L["more"].format(n=total - shown), text_size="notation"))
    body.append(hr())
    body.extend(footer)
    result["body"]["elements"] = body
    return fit_card(result, keep_tail=len(footer))


def _task_element(task: TaskView, due: datetime, now: datetime, group: str, lang: str) -> dict:
    L = LABELS[lang]
    first = f"**{md_text(task.duty_name, DUTY_CHARS) or '—'}**"
    if task.status == "rejected":
        first += f" · <font color='red'>{L['rejected']}</font>"
    elif task.status == "submitted":
        first += f" · <font color='grey'>{L['submitted']}</font>"

    when = f"{L['due']}{L['colon']}{format_day_time(due, lang, ref=now)}"
    if group == OVERDUE:
        when += f" · <font color='red'>{_overdue_text(now - due, lang)}</font>"
    if task.period_label:
        when += f" · {md_text(task.period_label, PERIOD_CHARS)}"
    lines = [first, when]
    if task.activity_title:
        lines.append(md_text(task.activity_title, ACTIVITY_CHARS))
    if task.clause:
        lines.append(
            f"<font color='grey'>{L['clause']}{L['colon']}{md_text(task.clause, CLAUSE_CHARS)}</font>"
        )
    content = markdown("\n".join(lines))
    # The task's own button: submit its report (report.open) or mark it done (task.done).
    action = primary_button(task.task_id, task.action, task.status, lang)
    return with_buttons(content, [action] if action else [])


def _overdue_text(late: timedelta, lang: str) -> str:
    L = LABELS[lang]
    minutes = int(late.total_seconds() // 60)
    if minutes >= 24 * 60:
        return L["overdue_days"].format(n=minutes // (24 * 60))
    if minutes >= 60:
        return L["overdue_hours"].format(n=minutes // 60)
    return L["overdue_minutes"].format(n=max(minutes, 1))


def _team_tz(view: DueView) -> tzinfo:
    """The team's zone; if `view.timezone` is unknown, the zone `now` carries (or UTC)."""
    try:
        return ZoneInfo(view.timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return view.now.tzinfo or UTC


def _local(dt: datetime, tz: tzinfo) -> datetime:
    """`dt` in the team time zone; a naive `dt` is taken to be team-local already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=tz)
    return dt.astimezone(tz)


__all__ = ["MAX_TASKS", "build_due_card", "group_tasks"]
