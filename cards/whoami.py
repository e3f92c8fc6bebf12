"""The "who am I" card: name, role, approver, admin flag, team chats."""

from __future__ import annotations

from cards.elements import card, markdown, md_id, md_text, plain_str, text_tag
from cards.i18n import norm_lang
from cards.views import MemberView

MAX_CHATS = 10
NAME_CHARS = 40
CHAT_CHARS = 40

LABELS = {
    "zh": {
        "title": "我是谁 · {name}",
        "summary": "{name}：{role}",
        "name": "姓名",
        "role": "角色",
        "department": "部门",
        "approver": "审批人",
        "admin": "管理员",
        "chats": "团队群",
        "open_id": "open_id（管理员用它把你加入团队）",
        "yes": "是",
        "no": "否",
        "none": "无",
        "no_chats": "暂无",
        "more_chats": "等 {n} 个",
        "list_sep": "、",
        "colon": "：",
        "admin_tag": "管理员",
        "hint": "说「待办」查看你的任务，说「帮助」查看更多。",
    },
    "en": {
        "title": "Who am I · {name}",
        "summary": "{name}: {role}",
        "name": "Name",
        "role": "Role",
        "department": "Department",
        "approver": "Reports approved by",
        "admin": "Admin",
        "chats": "Team chats",
        "open_id": "open_id (admins use it to add you)",
        "yes": "Yes",
        "no": "No",
        "none": "None",
        "no_chats": "None yet",
        "more_chats": "+{n} more",
        "list_sep": ", ",
        "colon": ": ",
        "admin_tag": "Admin",
        "hint": 'Say "what\'s due" to see your tasks, or "help" for more.',
    },
}


def build_whoami_card(
    member: MemberView,
    lang: str,
    *,
    team_chats: list[str],
    reports_to_label: str | None,
) -> dict:
    """`reports_to_label` describes who approves the member's reports (e.g. the manager's
    role name); it is shown after `member.manager_name`, or alone if there is no name."""
    L = LABELS[norm_lang(lang)]
    name = md_text(member.name, NAME_CHARS) or "—"
    role = md_text(member.role_name, NAME_CHARS) or md_text(member.role_key, NAME_CHARS) or "—"

    manager = md_text(member.manager_name, NAME_CHARS)
    label = md_text(reports_to_label, NAME_CHARS)
    if manager and label:
        approver = f"{manager} ({label})"
    else:
        approver = manager or label or L["none"]

    chats = [md_text(c, CHAT_CHARS) for c in team_chats if c and c.strip()]
    chat_text = L["list_sep"].join(chats[:MAX_CHATS]) or L["no_chats"]
    if len(chats) > MAX_CHATS:
        chat_text += " " + L["more_chats"].format(n=len(chats) - MAX_CHATS)

    rows = [
        (L["name"], name),
        *(
            [(L["department"], dept)]
            if (dept := md_text(member.department_name, NAME_CHARS))
            else []
        ),
        (L["role"], role),
        (L["approver"], approver),
        (L["admin"], L["yes"] if member.is_admin else L["no"]),
        (L["chats"], chat_text),
        (L["open_id"], md_id(member.open_id) or "—"),
    ]
    details = "\n".join(f"**{k}**{L['colon']}{v}" for k, v in rows)
    plain_name = plain_str(member.name, NAME_CHARS) or "—"
    return card(
        title=L["title"].format(name=plain_name),
        subtitle=plain_str(member.role_name, NAME_CHARS) or None,
        template="blue",
        tags=[text_tag(L["admin_tag"], "turquoise")] if member.is_admin else (),
        summary=L["summary"].format(
            name=plain_name, role=plain_str(member.role_name, NAME_CHARS) or "—"
        ),
        elements=[markdown(details), markdown(L["hint"], text_size="notation")],
    )


__all__ = ["build_whoami_card"]
