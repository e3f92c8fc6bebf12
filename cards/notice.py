"""Short notices: "you are not on the team yet", and a generic info/error card."""

from __future__ import annotations

from cards.elements import card, markdown, md_id, md_text, plain_str, text_div, truncate
from cards.i18n import norm_lang
from cards.schema import HEADER_TEMPLATES
from cards.views import MemberView

MAX_ADMINS = 10
NAME_CHARS = 40
NOTICE_TITLE_CHARS = 60
NOTICE_TEXT_CHARS = 2000

LABELS = {
    "zh": {
        "title": "你还不在团队中",
        "summary": "你还不在团队中，请联系管理员",
        "hello": "你好，{name}！",
        "hello_anon": "你好！",
        "body": "我是部门值班助手 DutyBot。你还不在团队名单中，所以暂时无法查看或提交任务。",
        "ask": "请联系以下任一管理员把你加入团队：",
        "ask_none": "请联系部门管理员把你加入团队。",
        "more": "……还有 {n} 位管理员",
        "after": "加入后发送「帮助」即可查看可用的命令。",
        "open_id": "你的 open_id（请发给管理员）：{open_id}",
    },
    "en": {
        "title": "You're not on the team yet",
        "summary": "You're not on the team yet: ask an admin",
        "hello": "Hi {name}!",
        "hello_anon": "Hi!",
        "body": (
            "I'm DutyBot, the team's duty assistant. You're not on the team list yet, "
            "so you can't see or submit tasks for now."
        ),
        "ask": "Please ask one of these admins to add you:",
        "ask_none": "Please ask your department's admin to add you.",
        "more": "…and {n} more admins",
        "after": 'Once you\'re added, say "help" to see what you can do.',
        "open_id": "Your open_id (send it to an admin): {open_id}",
    },
}


def build_not_on_team_card(
    name: str | None, admins: list[MemberView], lang: str, open_id: str = ""
) -> dict:
    """Polite refusal for someone who is not a team member, listing admins to ask and the
    person's open_id (what an admin needs to add them)."""
    L = LABELS[norm_lang(lang)]
    shown = md_text(name, NAME_CHARS)
    greeting = L["hello"].format(name=shown) if shown else L["hello_anon"]
    admin_names = [md_text(a.name, NAME_CHARS) for a in admins if a.name and a.name.strip()]
    if admin_names:
        lines = [L["ask"], *(f"- {n}" for n in admin_names[:MAX_ADMINS])]
        if len(admin_names) > MAX_ADMINS:
            lines.append(L["more"].format(n=len(admin_names) - MAX_ADMINS))
        ask = "\n".join(lines)
    else:
        ask = L["ask_none"]
    return card(
        title=L["title"],
        template="wathet",
        summary=L["summary"],
        elements=[
            markdown(f"{greeting}\n{L['body']}"),
            markdown(ask),
            *([markdown(L["open_id"].format(open_id=md_id(open_id)))] if open_id else []),
            markdown(L["after"], text_size="notation"),
        ],
    )


def build_notice_card(title: str, text: str, lang: str, template: str = "blue") -> dict:
    """A short notice. `title` and `text` are shown as plain text (never markup), so
    they may safely contain user input; an unknown `template` falls back to blue."""
    del lang  # labels come in already translated; kept for a uniform builder signature
    title = plain_str(title, NOTICE_TITLE_CHARS) or "DutyBot"
    return card(
        title=title,
        template=template if template in HEADER_TEMPLATES else "blue",
        summary=title,
        elements=[text_div(truncate(text.strip(), NOTICE_TEXT_CHARS) or "—")],
    )


__all__ = ["build_not_on_team_card", "build_notice_card"]
