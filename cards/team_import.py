"""The answer to "导入本群成员" / "import members": who joined the team as what, and who still
needs a role, with a role select for each of them and one button to assign the chosen ones."""

from __future__ import annotations

from dataclasses import dataclass

from cards.actions import AssignRoles
from cards.elements import card, markdown, md_text, plain, plain_str
from cards.i18n import norm_lang

ASSIGN_ACTION = AssignRoles.name
FORM_NAME = "import_roles"
MAX_SELECTS = 20  # one select per person; more would crowd the card (and its element limit)

LABELS = {
    "zh": {
        "title": "已导入本群成员",
        "added": "**已在团队中（{n}）**",
        "counts": "新增 {added} 人，更新 {updated} 人，未变 {same} 人。",
        "none_added": "没有可按职务匹配角色的成员。",
        "admin": "（管理员）",
        "need": "**需要指定角色（{n}）**：他们的职务对应不到角色，尚未加入团队。",
        "pick": "选择角色",
        "assign": "分配所选角色",
        "more": "另有 {n} 人未列出，可用 `dutybot org import --chat … --write 文件` 导出后编辑。",
        "by": "操作人：{name}",
        "assigned": "**已分配**",
    },
    "en": {
        "title": "Group members imported",
        "added": "**On the team ({n})**",
        "counts": "{added} added, {updated} updated, {same} unchanged.",
        "none_added": "Nobody's job title matches a role.",
        "admin": " (admin)",
        "need": "**Need a role ({n})**: their job titles match no role; not on the team yet.",
        "pick": "Pick a role",
        "assign": "Assign the chosen roles",
        "more": "{n} more are not listed: `dutybot org import --chat … --write FILE` writes them all for editing.",
        "by": "By {name}",
        "assigned": "**Assigned**",
    },
}


@dataclass(frozen=True)
class Joined:
    name: str
    role_name: str
    admin: bool = False


@dataclass(frozen=True)
class NeedsRole:
    open_id: str
    name: str
    why: str  # already in the reader's language


@dataclass(frozen=True)
class ImportView:
    joined: tuple[Joined, ...]
    needs_role: tuple[NeedsRole, ...]
    roles: tuple[tuple[str, str], ...]  # (key, name in the reader's language)
    actor_name: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    assigned: tuple[Joined, ...] = ()  # given a role from this card


def field_name(i: int) -> str:
    return f"p{i}"


def build_import_card(view: ImportView, lang: str) -> dict:
    lang = norm_lang(lang)
    L = LABELS[lang]
    elements: list[dict] = []
    if view.joined:
        lines = [
            f"- {md_text(j.name, 40)}：{md_text(j.role_name, 40)}{L['admin'] if j.admin else ''}"
            for j in view.joined
        ]
        elements.append(markdown(L["added"].format(n=len(view.joined)) + "\n" + "\n".join(lines)))
        elements.append(
            markdown(
                L["counts"].format(added=view.added, updated=view.updated, same=view.unchanged),
                text_size="notation",
            )
        )
    elif not view.assigned:
        elements.append(markdown(L["none_added"]))
    if view.assigned:
        lines = [f"- {md_text(j.name, 40)}：{md_text(j.role_name, 40)}" for j in view.assigned]
        elements.append(markdown(L["assigned"] + "\n" + "\n".join(lines)))
    if view.needs_role:
        shown = view.needs_role[:MAX_SELECTS]
        elements.append(markdown(L["need"].format(n=len(view.needs_role))))
        form: list[dict] = []
        for i, person in enumerate(shown):
            form.append(markdown(f"{md_text(person.name, 40)} · {md_text(person.why, 80)}"))
            form.append(
                {
                    "tag": "select_static",
                    "name": field_name(i),
                    "placeholder": plain(L["pick"]),
                    "options": [
                        {"text": plain(plain_str(name, 40) or key), "value": key}
                        for key, name in view.roles
                    ],
                }
            )
        value = AssignRoles(
            lang, tuple(p.open_id for p in shown), tuple(p.name[:60] for p in shown)
        ).pack()
        form.append(
            {
                "tag": "button",
                "name": "import_assign",
                "text": plain(L["assign"]),
                "type": "primary_filled",
                "form_action_type": "submit",
                "behaviors": [{"type": "callback", "value": value}],
            }
        )
        elements.append({"tag": "form", "name": FORM_NAME, "elements": form})
        if len(view.needs_role) > len(shown):
            more = L["more"].format(n=len(view.needs_role) - len(shown))
            elements.append(markdown(more, text_size="notation"))
    elements.append(
        markdown(L["by"].format(name=md_text(view.actor_name, 40)), text_size="notation")
    )
    return card(
        title=L["title"],
        template="green" if not view.needs_role else "orange",
        summary=L["title"],
        elements=elements,
    )
