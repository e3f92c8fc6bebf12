"""The team from a group's members, in chat: an admin says "导入本群成员" / "import members"
in a group; people whose job title matches a role join as that role, the others are listed
on the answer card with a role select each. Every step checks the asker against the team
as it is now."""

from __future__ import annotations

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent, MessageEvent
from bot.dispatch.router import Intent, Router
from bot.domain.directory import (
    DirectoryError,
    ImportPlan,
    Person,
    Placed,
    describe_unplaced,
    plan_import,
)
from cards.actions import AssignRoles
from cards.answers import toast, with_card
from cards.team_import import ImportView, Joined, NeedsRole, build_import_card
from cards.team_import import field_name as select_name
from handlers.admin import require_admin
from handlers.people import after_sync
from storage.audit import audit
from storage.members import get_chat
from storage.org import SyncReport, import_people
from storage.tasks import ensure_periodic_tasks

router = Router(name="team_import")

TEXT = {
    "not_admin": {
        "zh": "只有管理员可以导入群成员。",
        "en": "Only admins can import the group's members.",
    },
    "not_group": {
        "zh": "请在要导入的群里 @我 说「导入本群成员」。",
        "en": 'Say "import members" (@-mentioning me) in the group whose members you want to add.',
    },
    "offline": {
        "zh": "还没有连接飞书应用，读不到通讯录。请先配置 FEISHU_APP_ID 和 FEISHU_APP_SECRET。",
        "en": "No Feishu app is connected, so I cannot read the directory: set FEISHU_APP_ID and FEISHU_APP_SECRET.",
    },
    "no_department": {
        "zh": "这个群还不属于任何部门，我不知道该把成员导入哪个部门（{choices}）。"
        "请在团队文件的 [[chats]] 中为此群（{chat_id}）写上 department 后运行 dutybot org sync，"
        "或在命令行运行 dutybot org import --chat {chat_id} --into 部门代号。",
        "en": "This group belongs to no department yet, so I cannot tell which department its "
        "members join ({choices}). Give the chat ({chat_id}) a `department` in the team file's "
        "[[chats]] and run `dutybot org sync`, or run `dutybot org import --chat {chat_id} "
        "--into KEY`.",
    },
    "other_department": {
        "zh": "这个群属于{department}，请由该部门的管理员导入成员。",
        "en": "This group belongs to {department}; ask that department's admin to import its "
        "members.",
    },
    "failed": {
        "zh": "读取群成员失败（{error}）。请确认应用已开通通讯录与群成员权限（见 README）。",
        "en": "Could not read the group's members ({error}). Check the app's contact and chat-member scopes (see README).",
    },
}


def _counts(report: SyncReport) -> tuple[int, int, int]:
    added = sum(c.startswith("+ member") for c in report.changes)
    updated = sum(c.startswith("~ member") for c in report.changes)
    return added, updated, report.unchanged


def _role_name(ctx: Ctx, key: str, lang: str) -> str:
    role = ctx.policy.roles.get(key)
    return role.name(lang) if role else key


def _roles(ctx: Ctx, lang: str) -> tuple[tuple[str, str], ...]:
    return tuple((r.key, r.name(lang)) for r in ctx.policy.roles.values())


async def _apply(ctx: Ctx, plan: ImportPlan, source: str) -> SyncReport:
    report = await import_people(
        ctx.session, plan, ctx.now, source=source, department=ctx.department
    )
    await ctx.session.flush()
    await after_sync(ctx, report)  # someone's title now names another role: hand-off
    department = None if ctx.services.policies.is_single else ctx.department
    await ensure_periodic_tasks(
        ctx.session, ctx.policy, ctx.services.calendar, ctx.tz, ctx.now, department=department
    )
    return report


async def _chat_in_askers_department(ctx: Ctx, chat_id: str) -> bool:
    """With several departments, a group's members join the group's department, which must
    be the asking admin's; a group that belongs to none gets an answer saying how to give
    it one (False: answered). One department (declared or not): always True."""
    policies = ctx.services.policies
    if len(policies.declared) < 2:
        return True
    chat = await get_chat(ctx.session, chat_id)
    department = chat.department if chat is not None and chat.active else None
    if department not in policies.declared:
        choices = ", ".join(f"{k} {policies.department(k).name}" for k in policies.declared)
        text = TEXT["no_department"][ctx.lang]
        await ctx.answer(text.format(choices=choices, chat_id=chat_id), msg_type="text")
        return False
    if department != ctx.department:
        name = policies.department(department).name
        text = TEXT["other_department"][ctx.lang].format(department=name)
        await ctx.answer(text, msg_type="text")
        return False
    return True


@router.message(
    "team.import", keywords=("导入本群成员", "导入群成员", "导入成员", "import members")
)
async def on_import(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    lang = ctx.lang
    not_admin = TEXT["not_admin"]
    actor = await require_admin(ctx, event, (not_admin["zh"], not_admin["en"]))
    if actor is None:
        return
    if not event.is_group:
        await ctx.answer(TEXT["not_group"][lang], msg_type="text")
        return
    if not await _chat_in_askers_department(ctx, event.chat_id):
        return
    directory = ctx.services.directory
    if directory is None:
        await ctx.answer(TEXT["offline"][lang], msg_type="text")
        return
    try:
        people, _ = await directory.gather(chat_id=event.chat_id)
    except DirectoryError as exc:
        error = f"{exc.code}: {exc.msg[:80]}"
        await ctx.answer(TEXT["failed"][lang].format(error=error), msg_type="text")
        return
    plan = plan_import(people, ctx.policy.roles)
    report = await _apply(ctx, plan, source=f"chat import {event.chat_id}")
    added, updated, same = _counts(report)
    audit(
        ctx.session,
        at=ctx.now,
        action="team.imported",
        actor=actor.open_id,
        subject=event.chat_id,
        added=added,
        updated=updated,
        need_role=[u.person.open_id for u in plan.unplaced],
    )
    view = ImportView(
        joined=tuple(
            Joined(p.person.name, _role_name(ctx, p.role, lang), p.admin) for p in plan.placed
        ),
        needs_role=tuple(
            NeedsRole(u.person.open_id, u.person.name, describe_unplaced(u, ctx.policy.roles, lang))
            for u in plan.unplaced
        ),
        roles=_roles(ctx, lang),
        actor_name=actor.name,
        added=added,
        updated=updated,
        unchanged=same,
    )
    await ctx.answer(build_import_card(view, lang))


@router.action(AssignRoles)
async def on_assign_roles(ctx: Ctx, event: CardActionEvent, action: AssignRoles) -> dict:
    """The roles chosen on the import card. The clicker must be an admin now; the people
    and roles come from the card, each role checked against the policy."""
    lang = ctx.lang
    actor = ctx.member
    if actor is None or not actor.is_admin:
        audit(
            ctx.session,
            at=ctx.now,
            action="team.refused",
            actor=ctx.asker,
            subject=event.open_message_id,
        )
        return toast("error", TEXT["not_admin"]["zh"], TEXT["not_admin"]["en"])
    if len(ctx.services.policies.declared) > 1:  # the group's department is the clicker's
        chat = await get_chat(ctx.session, event.open_chat_id)
        if chat is None or chat.department != ctx.department:
            return toast(
                "error", "请由该群所属部门的管理员分配角色。", "Ask this group's department admin."
            )
    ids, names = action.ids, action.names
    if not ids or len(ids) != len(names):
        return toast("error", "这张卡片已失效。", "This card is out of date.")
    placed, left = [], []
    for i, (open_id, name) in enumerate(zip(ids, names, strict=True)):
        if not isinstance(open_id, str) or not open_id.startswith("ou_"):
            continue
        person = Person(open_id, str(name)[:60] or open_id)
        role = event.form_value.get(select_name(i))
        if isinstance(role, str) and role in ctx.policy.roles:
            placed.append(Placed(person, role))
        else:
            left.append(person)
    if not placed:
        return toast("warning", "请先为至少一人选择角色。", "Pick a role for someone first.")
    await _apply(ctx, ImportPlan(tuple(placed), ()), source="chat import (card)")
    audit(
        ctx.session,
        at=ctx.now,
        action="team.roles_assigned",
        actor=actor.open_id,
        subject=event.open_message_id,
        roles={p.person.open_id: p.role for p in placed},
    )
    view = ImportView(
        joined=(),
        needs_role=tuple(NeedsRole(p.open_id, p.name, "") for p in left),
        roles=_roles(ctx, lang),
        actor_name=actor.name,
        assigned=tuple(Joined(p.person.name, _role_name(ctx, p.role, lang)) for p in placed),
    )
    done = len(placed)
    answer = toast("success", f"已分配 {done} 人的角色", f"Roles assigned to {done}")
    return with_card(answer, build_import_card(view, lang))
