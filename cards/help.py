"""The help card: what you can say to the bot."""

from __future__ import annotations

from cards.elements import card, hr, markdown
from cards.i18n import norm_lang

# (label key, example phrases). Keep in step with bot/dispatch/router.py.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("due", ("待办", "我的任务", "what's due", "todo")),
    ("week", ("本周", "this week")),
    ("overdue", ("逾期", "overdue")),
    ("whoami", ("我是谁", "whoami")),
    ("help", ("帮助", "help")),
)

LABELS = {
    "zh": {
        "title": "DutyBot 帮助",
        "summary": "DutyBot 帮助：可以说的话",
        "intro": "我是部门值班助手：按岗位职责生成任务，提醒截止时间，并把汇报交给上级审批。",
        "say": "**你可以这样说：**",
        "due": "查看我的待办",
        "week": "本周的任务",
        "overdue": "已逾期的任务",
        "whoami": "我的角色和审批人",
        "help": "显示本帮助",
        "sep": " · ",
        "colon": "：",
        "group": "在群聊里请先 **@机器人** 再说，例如「@DutyBot 待办」；私聊直接说即可。",
        "not_member": "你还不在团队名单中，暂时没有任务。请联系管理员把你加入团队。",
        "admin_title": "**管理员**",
        "admin": (
            "- 成员、角色和上级来自通讯录同步：`dutybot org sync`\n"
            "- 职责和截止规则来自策略文件，修改后先检查：`dutybot policy check 文件`"
        ),
    },
    "en": {
        "title": "DutyBot help",
        "summary": "DutyBot help: what you can say",
        "intro": (
            "I'm the team's duty assistant: I turn role duties into tasks, remind you of "
            "deadlines and pass your reports to your manager for approval."
        ),
        "say": "**What you can say:**",
        "due": "What's due for me",
        "week": "This week's tasks",
        "overdue": "Overdue tasks",
        "whoami": "My role and approver",
        "help": "Show this help",
        "sep": " · ",
        "colon": ": ",
        "group": (
            'In group chats, **@-mention the bot** first, e.g. "@DutyBot what\'s due"; '
            "in a direct chat just say it."
        ),
        "not_member": "You're not on the team yet, so you have no tasks. Ask an admin to add you.",
        "admin_title": "**Admins**",
        "admin": (
            "- Members, roles and managers come from the directory sync: `dutybot org sync`\n"
            "- Duties and due rules come from the policy file; check edits with "
            "`dutybot policy check FILE`"
        ),
    },
}


def build_help_card(lang: str, *, is_member: bool, is_admin: bool) -> dict:
    """What you can say (Chinese and English phrases), how to talk in groups, admin notes."""
    L = LABELS[norm_lang(lang)]
    lines = [L["say"]]
    for key, phrases in COMMANDS:
        examples = L["sep"].join(f"`{p}`" for p in phrases)
        lines.append(f"- {L[key]}{L['colon']}{examples}")
    elements = [markdown(L["intro"]), markdown("\n".join(lines)), markdown(L["group"])]
    if not is_member:
        elements.append(markdown(f"<font color='orange'>{L['not_member']}</font>"))
    if is_admin:
        elements += [hr(), markdown(f"{L['admin_title']}\n{L['admin']}")]
    return card(
        title=L["title"],
        template="wathet" if is_member else "grey",
        summary=L["summary"],
        elements=elements,
    )


__all__ = ["COMMANDS", "build_help_card"]
