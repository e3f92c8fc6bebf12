"""Cards for managing the team in chat, and the bot's introduction in a new group."""

from __future__ import annotations

from cards.actions import MakeTeamChat
from cards.elements import button, card, markdown, md_text
from cards.i18n import norm_lang

LABELS = {
    "zh": {
        "changed": "团队已更新",
        "intro_title": "你好，我是 DutyBot",
        "intro": (
            "我根据部门的岗位职责制度跟踪每个人的任务、截止时间和报告。\n"
            "在群里 @我 并说「待办」查看你的任务，说「帮助」查看全部命令。"
        ),
        "make_team": "设为团队群（接收提醒和周报）",
        "made_team": "已设为团队群：提醒和周报会发到这里。",
        "by": "操作人：{name}",
    },
    "en": {
        "changed": "Team updated",
        "intro_title": "Hi, I'm DutyBot",
        "intro": (
            "I track everyone's duties, deadlines and reports from the department's policy.\n"
            'In this group, @-mention me and say "what\'s due" for your tasks, or "help" for everything I can do.'
        ),
        "make_team": "Make this the team chat (reminders and digests)",
        "made_team": "This is now a team chat: reminders and digests will be posted here.",
        "by": "By {name}",
    },
}


def build_team_change_card(lines: list[str], actor_name: str, lang: str) -> dict:
    """Confirms a change made by an admin; `lines` are plain sentences (escaped here)."""
    L = LABELS[norm_lang(lang)]
    body = "\n".join(f"- {md_text(line, 300)}" for line in lines)
    return card(
        title=L["changed"],
        template="green",
        summary=L["changed"],
        elements=[
            markdown(body),
            markdown(L["by"].format(name=md_text(actor_name, 40)), text_size="notation"),
        ],
    )


def build_intro_card(lang: str, *, chat_id: str, offer_team: bool) -> dict:
    """The introduction posted when the bot joins a group; admins get a button."""
    L = LABELS[norm_lang(lang)]
    elements = [markdown(L["intro"])]
    if offer_team:
        elements.append(button(L["make_team"], MakeTeamChat(chat_id).pack(), style="primary"))
    return card(
        title=L["intro_title"], template="blue", summary=L["intro_title"], elements=elements
    )


def build_team_chat_card(lang: str) -> dict:
    L = LABELS[norm_lang(lang)]
    return card(
        title=L["intro_title"],
        template="green",
        summary=L["made_team"],
        elements=[markdown(L["made_team"])],
    )
