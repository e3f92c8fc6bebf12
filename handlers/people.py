"""People change: someone leaves the company (`contact.user.deleted_v3`, or
`contact.user.updated_v3` with `status.is_resigned`), is taken off the team (移除 / remove,
`dutybot org sync`) or changes role (绑定 / assign, the team file). Their open work moves
(the rules: `bot.domain.handoff`), their manager and the admins get one card each saying
what went to whom, with a form to give a task to someone else; the click is checked
against the team as it is then. Reports they submitted stay theirs."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent, ContactUserEvent
from bot.dispatch.router import Router
from bot.domain.handoff import (
    ADMIN,
    COVERED,
    GONE,
    LEFT,
    MANAGER,
    NOBODY,
    REMOVED,
    ROLE,
    SUCCESSOR,
    Leaver,
    Move,
    OpenTask,
    plan_handoff,
)
from bot.domain.roster import Roster, shown_name
from cards.actions import ReassignTask
from cards.answers import toast, with_card
from cards.handoff import TASK_FIELD, TO_FIELD, HandoffRow, HandoffView, build_handoff_card
from cards.i18n import format_day_time
from cards.notice import build_notice_card
from handlers.reports.routing import reroute_pending
from storage import people as store
from storage.activities import activity_titles
from storage.audit import audit
from storage.members import get_duties, get_member, list_active, load_roster
from storage.models import Member, Task, stored_key
from storage.org import SyncReport
from storage.tasks import get_task

log = logging.getLogger("dutybot.people")
router = Router(name="people")

# Cards to managers and admins that nobody asked for speak the language the recipient last
# wrote to the bot in (Member.lang), else the team's language.
LANG = "zh"
MAX_CARD_TASKS = 100  # the most tasks one card names (and its form can reassign)
COVERED_BY = re.compile(r"covered by (\S+?)'s own task")


@dataclass
class Handoff:
    moves: list[Move]
    tasks: dict[int, Task]

    @property
    def moved(self) -> int:
        return sum(m.kind in (SUCCESSOR, MANAGER, ADMIN) for m in self.moves)

    def line(self, ctx: Ctx) -> str:
        """One sentence for an admin's confirmation card."""
        n, kept = self.moved, sum(m.kind == NOBODY for m in self.moves)
        if not self.moves:
            return ctx.t("没有未完成的任务需要交接", "No open work to hand over")
        zh = f"{n} 项未完成任务已交接（交接卡片已发给其经理和管理员）"
        en = f"{n} open task(s) handed over (their manager and the admins got the hand-off card)"
        if kept:
            zh += f"，{kept} 项无人接手"
            en += f"; {kept} with nobody to take them"
        return ctx.t(zh, en)


def leaver_of(member: Member, role_key: str | None = None) -> Leaver:
    return Leaver(member.open_id, member.name, role_key or member.role_key, member.manager_open_id)


async def _plan(ctx: Ctx, leaver: Leaver, tasks: list[Task], roster: Roster) -> list[Move]:
    def role_of(task: Task) -> str:
        duty = ctx.policy_of(task.department).duties.get(task.duty_key)
        return duty.role if duty else leaver.role_key

    open_tasks = [OpenTask(t.id or 0, t.duty_key, t.period_key, role_of(t)) for t in tasks]
    draft = plan_handoff(leaver, open_tasks, roster, set())
    targets = {m.to for m in draft if m.to}
    pairs = {(t.duty_key, t.period_key) for t in tasks}
    taken = await store.taken_keys(ctx.session, pairs, targets)
    return plan_handoff(leaver, open_tasks, roster, taken)


async def hand_off(
    ctx: Ctx,
    member: Member,
    reason: str,
    *,
    old_role: str | None = None,
    duty_keys: list[str] | None = None,
) -> Handoff:
    """Move `member`'s undelivered work (of `duty_keys`, for a role change) and tell their
    manager and the admins on one card each; successors are told what they got. Call it
    after the change is in the session (deactivated, or the new role set). No commit."""
    await ctx.session.flush()
    leaver = leaver_of(member, old_role)
    tasks = await store.movable_tasks(ctx.session, member.open_id, duty_keys)
    dept = member.department  # the work stays in the leaver's department
    roster = await load_roster(ctx.session, ctx.policy_of(dept), ctx.scope_of(dept))
    moves = await _plan(ctx, leaver, tasks, roster) if tasks else []
    by_id = {t.id: t for t in tasks}
    for move in moves:
        task = by_id[move.task_id]
        if move.kind == COVERED and move.to:
            note = f"covered by {move.to}'s own task ({reason}: {member.open_id})"
            done = await store.cancel_covered(ctx.session, task, ctx.now, note)
        elif move.to:
            done = await store.reassign(ctx.session, task, move.to, ctx.now)
        else:
            done = False
        audit(
            ctx.session,
            at=ctx.now,
            action="task.handed_over",
            actor=ctx.asker or "system",
            subject=f"task:{move.task_id}",
            previous=member.open_id,
            to=move.to,
            kind=move.kind if done or move.kind == NOBODY else f"{move.kind} (changed meanwhile)",
            reason=reason,
        )
    result = Handoff(moves, {t.id or 0: t for t in tasks})
    if reason == ROLE and not moves:
        return result
    kinds = {m.task_id: m.kind for m in moves}
    recipients = _card_recipients(roster, leaver)
    known = await store.people(ctx.session, {p.open_id for p in recipients})
    cards: dict[str, dict] = {}  # one card per language, in the recipient's
    for person in recipients:
        lang = getattr(known.get(person.open_id), "lang", None) or LANG
        if lang not in cards:
            view = await handoff_view(
                ctx, member, reason, [m.task_id for m in moves], kinds, old_role=old_role, lang=lang
            )
            cards[lang] = build_handoff_card(view, lang)
        await ctx.send("open_id", person.open_id, cards[lang])
    await _tell_successors(ctx, member, reason, moves, result.tasks, roster, leaver)
    return result


def _card_recipients(roster: Roster, leaver: Leaver) -> list:
    people = []
    manager = roster.manager_of(leaver)
    for person in ([manager] if manager else []) + roster.admins():
        if person.open_id != leaver.open_id and all(p.open_id != person.open_id for p in people):
            people.append(person)
    return people


async def _tell_successors(
    ctx: Ctx,
    member: Member,
    reason: str,
    moves: list[Move],
    tasks: dict[int, Task],
    roster: Roster,
    leaver: Leaver,
) -> None:
    """Whoever got work and is not on the card's list hears which tasks are now theirs."""
    told = {p.open_id for p in _card_recipients(roster, leaver)}
    got: dict[str, list[Task]] = {}
    for move in moves:
        if move.kind in (SUCCESSOR, MANAGER, ADMIN) and move.to and move.to not in told:
            got.setdefault(move.to, []).append(tasks[move.task_id])
    why = {
        LEFT: ("已离开公司", "has left the company"),
        REMOVED: ("已被移出团队", "was taken off the team"),
        ROLE: ("已调整角色", "changed role"),
        GONE: ("已不在团队中", "is no longer on the team"),
    }[reason]
    for open_id, items in got.items():
        lines_zh, lines_en = [], []
        for task in items:
            duty = ctx.policy_of(task.department).duties.get(task.duty_key)
            due = task.due_at.astimezone(ctx.tz)
            lines_zh.append(
                f"- {duty.name('zh') if duty else task.duty_key}（截止 "
                f"{format_day_time(due, 'zh', ref=ctx.local_now)}）"
            )
            lines_en.append(
                f"- {duty.name('en') if duty else task.duty_key} (due "
                f"{format_day_time(due, 'en', ref=ctx.local_now)})"
            )
        text = "\n".join(
            [
                f"{member.name} {why[0]}，以下任务已转交给你：",
                *lines_zh,
                f"{member.name} {why[1]}; these tasks are now yours:",
                *lines_en,
            ]
        )
        await ctx.send("open_id", open_id, build_notice_card("任务交接 · Hand-off", text, LANG))


async def handoff_view(
    ctx: Ctx,
    member: Member,
    reason: str,
    task_ids: list[int],
    kinds: dict[int, str],
    *,
    old_role: str | None = None,
    lang: str | None = None,
) -> HandoffView:
    """The hand-off card's view from the tasks as they are now, in `lang` (default: the
    clicker's after a click, else the team's)."""
    lang = lang or (ctx.lang if isinstance(ctx.event, CardActionEvent) else LANG)
    tasks = await store.tasks_by_id(ctx.session, task_ids[:MAX_CARD_TASKS])
    people = await store.people(ctx.session, {t.assignee_open_id for t in tasks})
    duties = await get_duties(ctx.session, {stored_key(t.department, t.duty_key) for t in tasks})
    titles = await activity_titles(ctx.session, {t.activity_id for t in tasks if t.activity_id})
    rows = []
    for task in tasks:
        duty = duties.get(stored_key(task.department, task.duty_key))
        holder = people.get(task.assignee_open_id)
        kind = kinds.get(task.id or 0, "")
        if task.assignee_open_id == member.open_id and task.status in store.MOVABLE:
            kind = NOBODY
        if kind == COVERED:
            hit = COVERED_BY.search(task.note or "")
            found = await store.any_member(ctx.session, hit.group(1)) if hit else None
            holder_name = shown_name(found.name, found.active, lang) if found else ""
        else:
            holder_name = shown_name(holder.name, holder.active, lang) if holder else ""
        rows.append(
            HandoffRow(
                task_id=task.id or 0,
                duty_name=(duty.name_en if lang == "en" else duty.name_zh)
                if duty
                else task.duty_key,
                period=titles.get(task.activity_id, "") if task.activity_id else task.period_key,
                due=task.due_at.astimezone(ctx.tz),
                holder_name=holder_name,
                kind=kind,
                status=task.status,
            )
        )
    policy = ctx.policy_of(member.department)
    role = policy.roles.get(old_role or member.role_key)
    new_role = policy.roles.get(member.role_key) if reason == ROLE else None
    scope = ctx.scope_of(member.department)  # the work stays in the leaver's department
    members = tuple(
        (m.open_id, m.name)
        for m in await list_active(ctx.session)
        if scope is None or m.department == scope
    )
    return HandoffView(
        who=member.open_id,
        name=member.name,
        role_name=role.name(lang) if role else (old_role or member.role_key),
        reason=reason,
        rows=tuple(rows),
        members=members,
        now=ctx.local_now,
        new_role_name=new_role.name(lang) if new_role else "",
        old_role=old_role or "",
    )


async def member_left(ctx: Ctx, member: Member, reason: str) -> Handoff:
    """`member` (already deactivated in the session) is gone: their work moves, and the
    reports waiting for their decision go to whoever approves now."""
    result = await hand_off(ctx, member, reason)
    await ctx.session.flush()
    await reroute_pending(ctx)
    return result


async def role_changed(ctx: Ctx, member: Member, old_role: str) -> Handoff:
    """`member` moved from `old_role` (the new role is in the session): the open work of
    the old role's duties moves as if they had left it."""
    duty_keys = [d.key for d in ctx.policy_of(member.department).duties_for_role(old_role)]
    return await hand_off(ctx, member, ROLE, old_role=old_role, duty_keys=duty_keys)


async def after_sync(ctx: Ctx, report: SyncReport) -> list[str]:
    """After a team-file sync (`dutybot org sync`, an import): the work of everyone it took
    off the team or moved to another role is handed over. Lines for the command's output."""
    lines = []
    for open_id in report.departed:
        member = await store.any_member(ctx.session, open_id)
        if member is not None:
            handed = await hand_off(ctx, member, REMOVED)
            lines.append(f"{member.name} ({open_id}): {handed.moved} open task(s) handed over")
    for open_id, old_role in report.role_changes:
        member = await get_member(ctx.session, open_id)
        if member is not None and member.role_key != old_role:
            handed = await role_changed(ctx, member, old_role)
            lines.append(
                f"{member.name} ({open_id}): {handed.moved} open task(s) of {old_role} handed over"
            )
    return lines


# -- the contact events ---------------------------------------------------------------


@router.event("contact.user.deleted_v3")
async def on_user_deleted(ctx: Ctx, event: ContactUserEvent) -> None:
    await _left_company(ctx, event)


@router.event("contact.user.updated_v3")
async def on_user_updated(ctx: Ctx, event: ContactUserEvent) -> None:
    if event.resigned:
        await _left_company(ctx, event)
        return
    # Someone's directory name changed (or a member added by open_id gets one): cards and
    # lists show the name people know.
    member = await get_member(ctx.session, event.open_id)
    name = event.name.strip()
    if member is not None and name and member.name != name:
        audit(
            ctx.session,
            at=ctx.now,
            action="member.renamed",
            actor="feishu",
            subject=member.open_id,
            previous=member.name,
            name=name,
        )
        member.name, member.updated_at = name, ctx.now
        ctx.session.add(member)


async def _left_company(ctx: Ctx, event: ContactUserEvent) -> None:
    member = await store.any_member(ctx.session, event.open_id)
    if member is None:
        log.info("contact event %s: %s is not on the team", event.event_id, event.open_id)
        return
    if not member.active and not await store.movable_tasks(ctx.session, member.open_id):
        return  # already gone, nothing left with them
    if member.active:
        member.active, member.updated_at = False, ctx.now
        ctx.session.add(member)
        audit(
            ctx.session,
            at=ctx.now,
            action="member.left",
            actor="feishu",
            subject=member.open_id,
            event=event.event_id,
            deleted=event.deleted,
        )
    await member_left(ctx, member, LEFT)


# -- the card's form ------------------------------------------------------------------


def _refuse(ctx: Ctx, event: CardActionEvent, reason: str) -> None:
    audit(
        ctx.session,
        at=ctx.now,
        action="handoff.refused",
        actor=ctx.asker,
        subject=event.open_message_id,
        reason=reason,
    )


@router.action(ReassignTask)
async def on_reassign(ctx: Ctx, event: CardActionEvent, action: ReassignTask) -> dict:
    """Give a task from the hand-off card to another member: the clicker must be an admin
    or the manager of the person who left, as the team is now."""
    gone = await store.any_member(ctx.session, action.who)
    if gone is None:
        _refuse(ctx, event, "unknown person")
        return toast("warning", "这张卡片已失效。", "This card is out of date.")
    actor = ctx.member
    dept = gone.department
    roster = await load_roster(ctx.session, ctx.policy_of(dept), ctx.scope_of(dept))
    manager = roster.manager_of(leaver_of(gone, action.role or None))
    allowed = actor is not None and (
        (actor.is_admin and actor.department == dept)
        or (manager is not None and manager.open_id == actor.open_id)
    )
    if not allowed:
        _refuse(ctx, event, "not an admin or their manager")
        who = manager.name if manager else "管理员"
        who_en = manager.name if manager else "an admin"
        return toast(
            "error",
            f"只有 {gone.name} 的经理（{who}）或管理员可以转交其任务。",
            f"Only {gone.name}'s manager ({who_en}) or an admin can reassign their tasks.",
        )
    raw_task, to = event.form_value.get(TASK_FIELD), event.form_value.get(TO_FIELD)
    if not isinstance(raw_task, str) or not isinstance(to, str) or not raw_task or not to:
        return toast("warning", "请先选择任务和成员。", "Pick a task and a member first.")
    if raw_task not in action.tasks or not raw_task.isdigit():
        _refuse(ctx, event, "task not on the card")
        return toast("error", "这个任务不在这张卡片上。", "That task is not on this card.")
    task = await get_task(ctx.session, int(raw_task))
    target = await get_member(ctx.session, to)
    if task is None or task.status not in store.MOVABLE:
        return toast("info", "这个任务已完成或已取消。", "That task is already closed.")
    scope = ctx.scope_of(dept)
    if target is None or target.open_id == gone.open_id or (scope and target.department != scope):
        return toast("error", "只能转交给团队中的成员。", "Only a team member can take it over.")
    if task.assignee_open_id == target.open_id:
        return toast("info", f"{target.name} 已负责这个任务。", f"{target.name} already has it.")
    taken = await store.taken_keys(
        ctx.session, {(task.duty_key, task.period_key)}, {target.open_id}
    )
    if taken:
        return toast(
            "warning",
            f"{target.name} 已有同一职责同一周期的任务。",
            f"{target.name} already has this duty for this period.",
        )
    previous = task.assignee_open_id
    if not await store.reassign(ctx.session, task, target.open_id, ctx.now):
        return toast("warning", "任务刚刚有变动，请重试。", "The task just changed; try again.")
    audit(
        ctx.session,
        at=ctx.now,
        action="task.reassigned",
        actor=ctx.asker,
        subject=f"task:{task.id}",
        previous=previous,
        to=target.open_id,
        handoff=gone.open_id,
        card=event.open_message_id,
    )
    duty = ctx.policy_of(task.department).duties.get(task.duty_key)
    duty_zh = duty.name("zh") if duty else task.duty_key
    duty_en = duty.name("en") if duty else task.duty_key
    due = task.due_at.astimezone(ctx.tz)
    text = "\n".join(
        (
            f"{actor.name} 把「{duty_zh}」（{task.period_key}，截止 "
            f"{format_day_time(due, 'zh', ref=ctx.local_now)}）转交给你（原由 {gone.name} 负责）。",
            f"{actor.name} gave you '{duty_en}' ({task.period_key}, due "
            f"{format_day_time(due, 'en', ref=ctx.local_now)}), which was {gone.name}'s.",
        )
    )
    await ctx.send("open_id", target.open_id, build_notice_card("任务交接 · Hand-off", text, LANG))
    ids = [int(t) for t in action.tasks if t.isdigit()]
    reason = action.why or (LEFT if not gone.active else ROLE)
    view = await handoff_view(
        ctx, gone, reason, ids, {task.id or 0: "reassigned"}, old_role=action.role or None
    )
    answer = toast(
        "success",
        f"已将「{duty_zh}」转交给 {target.name}",
        f"'{duty_en}' reassigned to {target.name}",
    )
    return with_card(answer, build_handoff_card(view, ctx.lang))
