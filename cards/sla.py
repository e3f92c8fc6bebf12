"""Cards for clocks that start in chat (a logged user question or complaint):

* the answer to whoever logged it: what was logged, each task started, its owner and
  deadline (with "mark done" when the logger owns it);
* the owner's task card: the logged text, the deadline, "mark done";
* the choice card for a forwarded message: which trigger it is.

The logged text is user text: always escaped (`md_text`) or plain (`plain_str`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cards.actions import LogForwarded
from cards.elements import action_row, button, card, fit_card, hr, markdown, md_text, plain_str
from cards.i18n import format_day_time, norm_lang
from cards.task_actions import primary_button, with_buttons

TEXT_CHARS = 600
TITLE_CHARS = 30
NAME_CHARS = 40
DUTY_CHARS = 60
PREVIEW_CHARS = 300  # of a forwarded chat: enough to see what it is


@dataclass(frozen=True)
class SlaLine:
    task_id: int
    duty_name: str
    owner_name: str
    due_at: datetime  # aware, team time zone
    sla: str  # the rule in words: "24小时内" / "within 24 hours"
    action: str = "done"  # "report" | "done" | ""
    status: str = "open"
    mine: bool = False  # owned by whoever sees the card: it carries the task's button


@dataclass(frozen=True)
class LoggedView:
    trigger_name: str  # in the card's language
    text: str  # the logged text (user text)
    logger_name: str
    lines: tuple[SlaLine, ...]
    now: datetime  # aware, team time zone
    timezone: str = "Asia/Shanghai"
    already: bool = False  # the message had been logged before: nothing new started
    unowned: tuple[str, ...] = ()  # role names nobody holds: their duties started nothing


LABELS = {
    "zh": {
        "logged_title": "已登记{trigger}",
        "already_title": "{trigger}已登记过",
        "summary": "已登记{trigger}：{n} 项任务",
        "intro": "{trigger}已登记，时限从现在开始计算：",
        "already": "这条消息之前已经登记过，下面是它的任务（没有重复创建）：",
        "text": "**内容**",
        "owner": "负责人",
        "due": "截止",
        "tz": "时间为 {tz}",
        "unowned": "没有人担任{roles}，相应任务未创建：请管理员在团队中添加该岗位的成员。",
        "none": "（没有创建任务）",
        "task_title": "新任务 · {trigger}",
        "task_summary": "{trigger}：请在 {due} 前处理",
        "task_intro": "{logger} 登记了一条{trigger}，由你负责：",
        "colon": "：",
        "choose_title": "登记转发的消息",
        "choose_summary": "这条转发的消息要登记为？",
        "choose": "收到你转发的消息。要把它登记为哪一类？登记后按制度时限创建任务并通知负责人。",
        "unreadable": (
            "合并转发的聊天记录我读不到原文：负责人会在任务中看到“请向 {logger} 查看原文”。"
            "也可以直接发送「咨询：用户原话」或「投诉：用户原话」。"
        ),
        "forwarded_text": "（合并转发的聊天记录，原文请向 {logger} 查看）",
        "unknown_title": "没听懂这句话",
        "unknown_summary": "没听懂：是要登记用户咨询或投诉吗？",
        "unknown": (
            "我没听懂这句话：可以说「待办」查看你的任务，或发送「帮助」看看我能做什么。\n"
            "如果这是转发给我的用户咨询或投诉，按下面的按钮登记，按制度时限开始计时："
        ),
    },
    "en": {
        "logged_title": "{trigger} logged",
        "already_title": "{trigger} already logged",
        "summary": "{trigger} logged: {n} task(s)",
        "intro": "{trigger} logged; the clock starts now:",
        "already": "This message was logged before; here are its tasks (nothing new created):",
        "text": "**Text**",
        "owner": "Owner",
        "due": "Due",
        "tz": "Times in {tz}",
        "unowned": "Nobody holds {roles}, so no task was started for it: ask an admin to add a member with that role.",
        "none": "(no task started)",
        "task_title": "New task · {trigger}",
        "task_summary": "{trigger}: handle it by {due}",
        "task_intro": "{logger} logged a {trigger} for you:",
        "colon": ": ",
        "choose_title": "Log a forwarded message",
        "choose_summary": "Log this forwarded message as?",
        "choose": "I received the message you forwarded. What is it? Logging it starts the policy's deadline and tells the owner.",
        "unreadable": (
            'I cannot read the text of a merged forward: the owner\'s task will say "ask {logger} for the original". '
            'You can also send "question: <the user\'s words>" or "complaint: <the user\'s words>".'
        ),
        "forwarded_text": "(merged forward: ask {logger} for the original)",
        "unknown_title": "I didn't get that",
        "unknown_summary": "Didn't get that: log a user question or complaint?",
        "unknown": (
            'Sorry, I didn\'t get that. Say "what\'s due" to see your tasks, or "help" for what '
            "I can do.\nIf this is a user's question or complaint you forwarded to me, log it "
            "with a button below to start the policy's deadline:"
        ),
    },
}


def _line(line: SlaLine, lang: str, now: datetime, *, owner: bool) -> str:
    L = LABELS[lang]
    c = L["colon"]
    parts = [f"**{md_text(line.duty_name, DUTY_CHARS) or '—'}**"]
    if owner:
        parts.append(f"{L['owner']}{c}{md_text(line.owner_name, NAME_CHARS) or '—'}")
    when = format_day_time(line.due_at, lang, ref=now)
    parts.append(f"{L['due']}{c}{when} <font color='grey'>({md_text(line.sla, 30)})</font>")
    return "\n".join(parts)


def _text_block(text: str, lang: str) -> dict:
    return markdown(f"{LABELS[lang]['text']}\n{md_text(text, TEXT_CHARS, inline=False)}")


def build_logged_card(view: LoggedView, lang: str) -> dict:
    """The answer to whoever logged a question or complaint."""
    lang = norm_lang(lang)
    L = LABELS[lang]
    trigger = plain_str(view.trigger_name, TITLE_CHARS)
    body: list[dict] = [
        markdown(L["already"] if view.already else L["intro"].format(trigger=md_text(trigger, 30))),
        _text_block(view.text, lang),
        hr(),
    ]
    for line in view.lines:
        content = markdown(_line(line, lang, view.now, owner=True))
        btn = primary_button(line.task_id, line.action, line.status, lang) if line.mine else None
        body.append(with_buttons(content, [btn] if btn else []))
    if not view.lines:
        body.append(markdown(L["none"], text_size="notation"))
    if view.unowned:
        roles = "、".join(view.unowned) if lang == "zh" else ", ".join(view.unowned)
        body.append(markdown(L["unowned"].format(roles=md_text(roles, 80)), text_size="notation"))
    body.append(markdown(L["tz"].format(tz=md_text(view.timezone, 40)), text_size="notation"))
    head = "already_title" if view.already else "logged_title"
    c = card(
        title=L[head].format(trigger=trigger),
        template="grey" if view.already else "green",
        summary=L["summary"].format(trigger=trigger, n=len(view.lines)),
        elements=body,
    )
    return fit_card(c)


def build_owner_card(view: LoggedView, lines: list[SlaLine], lang: str) -> dict:
    """The task card of the owner (not the logger): the text, each task with mark done."""
    lang = norm_lang(lang)
    L = LABELS[lang]
    trigger = plain_str(view.trigger_name, TITLE_CHARS)
    body: list[dict] = [
        markdown(
            L["task_intro"].format(
                logger=md_text(view.logger_name, NAME_CHARS) or "—", trigger=md_text(trigger, 30)
            )
        ),
        _text_block(view.text, lang),
        hr(),
    ]
    for line in lines:
        content = markdown(_line(line, lang, view.now, owner=False))
        btn = primary_button(line.task_id, line.action, line.status, lang)
        body.append(with_buttons(content, [btn] if btn else []))
    body.append(markdown(L["tz"].format(tz=md_text(view.timezone, 40)), text_size="notation"))
    first = min((ln.due_at for ln in lines), default=view.now)
    c = card(
        title=L["task_title"].format(trigger=trigger),
        template="orange",
        summary=L["task_summary"].format(
            trigger=trigger, due=format_day_time(first, lang, ref=view.now)
        ),
        elements=body,
    )
    return fit_card(c)


def build_choose_card(
    message_id: str,
    triggers: list[tuple[str, str]],
    lang: str,
    *,
    readable: bool,
    logger: str,
    unknown: bool = False,
    preview: str | None = None,
) -> dict:
    """For a forwarded message (or, `unknown`, a private message that asked for nothing
    the bot knows, which may be a user's message forwarded as a copy): one button per
    trigger (key, name in `lang`)."""
    lang = norm_lang(lang)
    L = LABELS[lang]
    body: list[dict] = [markdown(L["unknown"] if unknown else L["choose"])]
    if preview:  # what a merged forward said, as read back (untrusted text: escaped)
        text = md_text(preview, PREVIEW_CHARS, inline=False)
        body.append(markdown(text, text_size="notation"))
    if not readable:
        body.append(
            markdown(
                L["unreadable"].format(logger=md_text(logger, NAME_CHARS)), text_size="notation"
            )
        )
    buttons = [
        button(
            plain_str(name, TITLE_CHARS),
            LogForwarded(message_id, key, lang).pack(),
            style="primary" if i == 0 else "default",
        )
        for i, (key, name) in enumerate(triggers)
    ]
    body.append(action_row(*buttons))
    return fit_card(
        card(
            title=L["unknown_title"] if unknown else L["choose_title"],
            template="grey" if unknown else "blue",
            summary=L["unknown_summary"] if unknown else L["choose_summary"],
            elements=body,
        )
    )


def forwarded_text(logger: str, lang: str) -> str:
    """The subject of a task started from a forward whose text cannot be read."""
    return LABELS[norm_lang(lang)]["forwarded_text"].format(logger=logger)


__all__ = [
    "LoggedView",
    "SlaLine",
    "build_choose_card",
    "build_logged_card",
    "build_owner_card",
    "forwarded_text",
]
