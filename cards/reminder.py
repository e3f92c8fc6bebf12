"""The reminder card: one per person per round, listing everything that needs them now.

Their own tasks come first, each with its buttons (submit report / mark done, and
"remind me tomorrow"); then, for managers and the director, the team's overdue work that
was escalated to them (no buttons: it is someone else's to do)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cards.elements import card, fit_card, hr, markdown, md_text, plain_str
from cards.i18n import format_day_time, norm_lang
from cards.task_actions import primary_button, snooze_button, with_buttons

NAME_CHARS = 40
DUTY_CHARS = 60
TITLE_CHARS = 40
MAX_MINE = 15
MAX_OTHERS = 30

UPCOMING, TODAY, OVERDUE = "upcoming", "today", "overdue"


@dataclass(frozen=True)
class ReminderLine:
    task_id: int
    duty_name: str
    due_at: datetime  # aware, team time zone
    stage: str  # upcoming | today | overdue
    late_workdays: int = 0
    status: str = "open"
    action: str = ""  # "report" | "done" | ""
    assignee_name: str = ""
    activity_title: str | None = None


@dataclass(frozen=True)
class ReminderView:
    name: str
    now: datetime  # aware, team time zone
    mine: tuple[ReminderLine, ...] = ()
    others: tuple[ReminderLine, ...] = ()  # escalated to this person


LABELS = {
    "zh": {
        "title": "提醒 · {name}",
        "mine": "**你的任务**",
        "others": "**需要你跟进：团队逾期事项**",
        "upcoming": "即将到期",
        "today": "今天到期",
        "overdue": "已逾期 {n} 个工作日",
        "overdue_today": "已逾期",
        "rejected": "被退回 · 需重做",
        "due": "截止",
        "summary_mine": "你有 {n} 项任务需要处理",
        "summary_others": "团队有 {n} 项逾期需要跟进",
        "sep": "，",
        "colon": "：",
        "more": "还有 {n} 项未显示，对我说「待办」查看全部。",
        "hint": "「明天再提醒」只推迟给你本人的提醒；逾期升级不受影响。",
    },
    "en": {
        "title": "Reminder · {name}",
        "mine": "**Your tasks**",
        "others": "**For you to follow up: the team's overdue work**",
        "upcoming": "Due soon",
        "today": "Due today",
        "overdue": "{n} working day(s) overdue",
        "overdue_today": "Overdue",
        "rejected": "Rejected · needs redo",
        "due": "Due",
        "summary_mine": "{n} task(s) need you",
        "summary_others": "{n} overdue team item(s) to follow up",
        "sep": ", ",
        "colon": ": ",
        "more": '{n} more not shown; ask me "what\'s due" for all of them.',
        "hint": '"Remind me tomorrow" only delays your own reminders; escalation goes on.',
    },
}

COLOR = {UPCOMING: "blue", TODAY: "orange", OVERDUE: "red"}


def _stage(line: ReminderLine, lang: str) -> str:
    L = LABELS[lang]
    if line.stage == OVERDUE:
        text = (
            L["overdue"].format(n=line.late_workdays) if line.late_workdays else L["overdue_today"]
        )
    else:
        text = L[line.stage]
    return f"<font color='{COLOR.get(line.stage, 'grey')}'>{text}</font>"


def _mine(line: ReminderLine, lang: str, now: datetime) -> dict:
    L = LABELS[lang]
    head = f"**{md_text(line.duty_name, DUTY_CHARS) or '—'}** · {_stage(line, lang)}"
    if line.status == "rejected":
        head += f" · <font color='red'>{L['rejected']}</font>"
    lines = [head, f"{L['due']}{L['colon']}{format_day_time(line.due_at, lang, ref=now)}"]
    if line.activity_title:
        lines.append(md_text(line.activity_title, TITLE_CHARS))
    buttons = [primary_button(line.task_id, line.action, line.status, lang)]
    buttons.append(snooze_button(line.task_id, lang))
    return with_buttons(markdown("\n".join(lines)), [b for b in buttons if b])


def _other(line: ReminderLine, lang: str, now: datetime) -> str:
    L = LABELS[lang]
    who = md_text(line.assignee_name, NAME_CHARS) or "—"
    duty = md_text(line.duty_name, DUTY_CHARS) or "—"
    due = format_day_time(line.due_at, lang, ref=now)
    return f"- {who}{L['colon']}{duty} · {L['due']} {due} · {_stage(line, lang)}"


def build_reminder_card(view: ReminderView, lang: str) -> dict:
    lang = norm_lang(lang)
    L = LABELS[lang]
    now = view.now
    body: list[dict] = []
    summary = []
    mine = sorted(view.mine, key=lambda x: (x.due_at, x.task_id))
    others = sorted(view.others, key=lambda x: (x.due_at, x.task_id))
    if mine:
        summary.append(L["summary_mine"].format(n=len(mine)))
        body.append(markdown(L["mine"]))
        body.extend(_mine(line, lang, now) for line in mine[:MAX_MINE])
        if len(mine) > MAX_MINE:
            body.append(markdown(L["more"].format(n=len(mine) - MAX_MINE), text_size="notation"))
    if others:
        summary.append(L["summary_others"].format(n=len(others)))
        if body:
            body.append(hr())
        body.append(markdown(L["others"]))
        body.append(markdown("\n".join(_other(line, lang, now) for line in others[:MAX_OTHERS])))
        if len(others) > MAX_OTHERS:
            body.append(
                markdown(L["more"].format(n=len(others) - MAX_OTHERS), text_size="notation")
            )
    if mine:
        body.append(markdown(L["hint"], text_size="notation"))
    stages = {x.stage for x in (*mine, *others)}
    template = "red" if OVERDUE in stages else "orange" if TODAY in stages else "blue"
    c = card(
        title=L["title"].format(name=plain_str(view.name, NAME_CHARS) or "—"),
        template=template,
        summary=L["sep"].join(summary) or L["title"].format(name=view.name),
        elements=body,
    )
    return fit_card(c, keep_tail=1 if mine else 0)


__all__ = ["OVERDUE", "TODAY", "UPCOMING", "ReminderLine", "ReminderView", "build_reminder_card"]
