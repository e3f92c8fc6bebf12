"""The hand-off card: someone left the company, was taken off the team or changed role;
what was handed to whom, and a form to give a task to another member. The card is built
from the tasks as they are now, so after a reassignment it shows the new holder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cards.actions import ReassignTask
from cards.elements import card, fit_card, markdown, md_text, plain, plain_str
from cards.i18n import format_day_time, norm_lang

MAX_ROWS = 20  # lines of tasks shown; the rest are counted
MAX_TASK_OPTIONS = 30  # tasks offered in the select (each option is a text object)
MAX_MEMBER_OPTIONS = 60
FORM_NAME = "handoff"
TASK_FIELD, TO_FIELD = "task", "to"
BUTTON_NAME = "handoff_reassign"

LABELS = {
    "zh": {
        "title": {
            "left": "成员离职交接 · {name}",
            "removed": "成员移出团队 · {name}",
            "role": "角色变更交接 · {name}",
            "gone": "成员离开交接 · {name}",
        },
        "intro": {
            "left": "**{name}**（{role}）已离开公司。",
            "removed": "**{name}**（{role}）已被移出团队。",
            "role": "**{name}** 的角色由 {role} 变为 {new_role}。",
            "gone": "**{name}**（{role}）已不在团队中，其报告被退回需重做。",
        },
        "handed": "其未完成的任务交接如下（{n} 项）：",
        "none": "没有未完成的任务需要交接。已提交的报告保留在其名下，审批照常进行。",
        "kept": "已提交的报告及历史记录保留在其名下。",
        "kind": {
            "successor": "同岗位接任",
            "manager": "待其重新分配",
            "admin": "管理员代管，待重新分配",
            "reassigned": "已转交",
        },
        "covered": "已由 {who} 的同期任务覆盖，已取消",
        "nobody": "暂无人接手，请重新分配",
        "status": {
            "submitted": "已提交",
            "approved": "已批准",
            "done": "已完成",
            "cancelled": "已取消",
        },
        "due": "截止 {when}",
        "more": "……另有 {n} 项",
        "pick_task": "选择任务",
        "pick_member": "转交给",
        "reassign": "转交",
        "who_may": "经理或管理员可将任务转交给其他成员。",
    },
    "en": {
        "title": {
            "left": "Hand-off: {name} left",
            "removed": "Hand-off: {name} left the team",
            "role": "Hand-off: {name} changed role",
            "gone": "Hand-off: {name} is gone",
        },
        "intro": {
            "left": "**{name}** ({role}) has left the company.",
            "removed": "**{name}** ({role}) was taken off the team.",
            "role": "**{name}** moved from {role} to {new_role}.",
            "gone": "**{name}** ({role}) is no longer on the team; a report of theirs was sent back to redo.",
        },
        "handed": " Their open work was handed over ({n}):",
        "none": "No open work to hand over. Submitted reports stay theirs; approvals go on.",
        "kept": "Reports they submitted keep their history under their name.",
        "kind": {
            "successor": "same role",
            "manager": "to reassign",
            "admin": "admin, to reassign",
            "reassigned": "reassigned",
        },
        "covered": "covered by {who}'s own task; cancelled",
        "nobody": "nobody took it over: reassign it",
        "status": {
            "submitted": "submitted",
            "approved": "approved",
            "done": "done",
            "cancelled": "cancelled",
        },
        "due": "due {when}",
        "more": "…and {n} more",
        "pick_task": "Task",
        "pick_member": "Give it to",
        "reassign": "Reassign",
        "who_may": "Their manager or an admin can give a task to another member.",
    },
}

OPEN_STATUSES = ("open", "rejected")


@dataclass(frozen=True)
class HandoffRow:
    task_id: int
    duty_name: str
    period: str  # the period ("2026-W48") or the activity's title
    due: datetime  # local
    holder_name: str  # who holds it now (shown name), or "" when nobody
    kind: str  # successor | manager | admin | covered | nobody | reassigned
    status: str  # the task's status now


@dataclass(frozen=True)
class HandoffView:
    who: str  # the open_id of the person who left
    name: str
    role_name: str
    reason: str  # left | removed | role
    rows: tuple[HandoffRow, ...]
    members: tuple[tuple[str, str], ...]  # (open_id, name) a task can be given to
    now: datetime
    new_role_name: str = ""
    old_role: str = ""  # the role key they left (a role change), carried by the form


def _row(row: HandoffRow, lang: str, now: datetime) -> str:
    L = LABELS[lang]
    due = L["due"].format(when=format_day_time(row.due, lang, ref=now))
    period = f" · {md_text(row.period, 40)}" if row.period else ""
    head = f"- **{md_text(row.duty_name, 60)}**{period} · {due}"
    holder = md_text(row.holder_name, 40)
    if row.kind == "covered":
        return f"{head} → {L['covered'].format(who=holder)}"
    if row.status not in OPEN_STATUSES:
        state = L["status"].get(row.status) or md_text(row.status, 20)
        return f"{head} → {holder}（{state}）" if lang == "zh" else f"{head} → {holder} ({state})"
    if row.kind == "nobody" or not holder:
        return f"{head} → {L['nobody']}"
    kind = L["kind"].get(row.kind, "")
    if not kind:
        return f"{head} → {holder}"
    return f"{head} → {holder}（{kind}）" if lang == "zh" else f"{head} → {holder} ({kind})"


def build_handoff_card(view: HandoffView, lang: str) -> dict:
    lang = norm_lang(lang)
    L = LABELS[lang]
    name = md_text(view.name, 40)
    intro = L["intro"][view.reason].format(
        name=name, role=md_text(view.role_name, 40), new_role=md_text(view.new_role_name, 40)
    )
    elements: list[dict] = []
    if view.rows:
        lines = [_row(r, lang, view.now) for r in view.rows[:MAX_ROWS]]
        if len(view.rows) > MAX_ROWS:
            lines.append(L["more"].format(n=len(view.rows) - MAX_ROWS))
        elements.append(markdown(intro + L["handed"].format(n=len(view.rows))))
        elements.append(markdown("\n".join(lines)))
        if view.reason != "role":
            elements.append(markdown(L["kept"], text_size="notation"))
    else:
        elements.append(markdown(intro + "\n" + L["none"]))
    movable = [r for r in view.rows if r.status in OPEN_STATUSES and r.kind != "covered"]
    members = [m for m in view.members if m[0] != view.who][:MAX_MEMBER_OPTIONS]
    if movable and members:
        offered = movable[:MAX_TASK_OPTIONS]
        value = ReassignTask(
            who=view.who,
            lang=lang,
            tasks=tuple(str(r.task_id) for r in view.rows[:100]),
            why=view.reason,
            role=view.old_role,
        ).pack()
        elements.append(
            {
                "tag": "form",
                "name": FORM_NAME,
                "elements": [
                    markdown(L["who_may"], text_size="notation"),
                    {
                        "tag": "select_static",
                        "name": TASK_FIELD,
                        "placeholder": plain(L["pick_task"]),
                        "options": [
                            {
                                "text": plain(
                                    plain_str(f"{r.duty_name} · {r.period}".strip(" ·"), 60)
                                ),
                                "value": str(r.task_id),
                            }
                            for r in offered
                        ],
                    },
                    {
                        "tag": "select_static",
                        "name": TO_FIELD,
                        "placeholder": plain(L["pick_member"]),
                        "options": [
                            {"text": plain(plain_str(n, 40) or oid), "value": oid}
                            for oid, n in members
                        ],
                    },
                    {
                        "tag": "button",
                        "name": BUTTON_NAME,
                        "text": plain(L["reassign"]),
                        "type": "primary_filled",
                        "form_action_type": "submit",
                        "behaviors": [{"type": "callback", "value": value}],
                    },
                ],
            }
        )
    title = L["title"][view.reason].format(name=plain_str(view.name, 40))
    return fit_card(
        card(title=title, template="orange", summary=title, elements=elements), keep_tail=1
    )
