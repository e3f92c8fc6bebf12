"""Clocks that start in chat: a team member logs a user question or complaint (``咨询：…``,
``投诉：…``, ``question: …``, ``complaint: …``, or by forwarding the message to the bot and
choosing what it is), and each SLA duty of the policy that the trigger starts becomes a
task with its deadline, reminded and escalated like any other.

Which words start which trigger is policy data (``[[triggers]]``); the pure rules are in
``bot/domain/sla.py``. The same message logged twice (a repeated delivery, a second click
on the choice card) starts its tasks once: the task key includes the message id."""

from __future__ import annotations

import json
import re

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent, MessageEvent, PayloadError, message_event
from bot.dispatch.router import Intent, Router
from bot.domain.departments import Policies
from bot.domain.policy import Policy, Trigger
from bot.domain.reminders import current_step, first_action_at
from bot.domain.sla import choose_owner, due_at, match_trigger, period_key
from cards.actions import LogForwarded
from cards.answers import toast, with_card
from cards.sla import (
    LoggedView,
    SlaLine,
    build_choose_card,
    build_logged_card,
    build_owner_card,
    forwarded_text,
)
from handlers.forwards import forwarded_chat
from handlers.views import require_member
from storage.audit import audit
from storage.members import names_of
from storage.models import Member, Task, TaskStatus
from storage.reminders import claim_marker, marker_key
from storage.sla import insert_sla_tasks, role_holders, stored_message, tasks_for_message

router = Router(name="sla")

LOGGED, FORWARDED = "sla.logged", "sla.forwarded"
READ_SECONDS = 5.0  # reading a merged forward back, from the inbox worker
CLICK_READ_SECONDS = 1.0  # … and in a click, which Feishu waits 3 s for
# Words people use even when the policy has no triggers: answered helpfully, not "unknown".
_USUAL = re.compile(r"^\s*(咨询|投诉|question|complaint)\s*[:：]", re.IGNORECASE)

NO_TEXT = (
    "请在冒号后写上用户的原话，例如「咨询：这款产品的保质期是多久？」或「投诉：快递三天还没到」。",
    'Write the user\'s words after the colon, e.g. "question: how long does it keep?" or '
    '"complaint: the parcel is three days late".',
)
NO_TRIGGERS = (
    "本部门的制度没有由用户咨询或投诉开始计时的职责（制度文件中没有 [[triggers]]），所以不会创建任务。"
    "需要时请管理员在制度文件中添加，再用 `dutybot policy check` 检查。",
    "This department's policy has no duty whose clock starts with a user question or "
    "complaint (no [[triggers]] in the policy file), so no task is created. An admin can "
    "add them to the policy file and check it with `dutybot policy check`.",
)


def _startable(policy: Policy) -> list[Trigger]:
    """The triggers that start at least one SLA duty."""
    return [t for t in policy.triggers.values() if policy.duties_for_trigger(t.key)]


def _what_can_be_logged(ctx: Ctx) -> str:
    """The answer to a word the policy does not start a clock with."""
    triggers = _startable(ctx.policy)
    if not triggers:
        return ctx.t(*NO_TRIGGERS)
    zh = "、".join(
        f"{t.name_zh}（{t.words_zh[0] if t.words_zh else t.words[0]}：…）" for t in triggers
    )
    en = ", ".join(
        f'{t.name_en} ("{t.words_en[0] if t.words_en else t.words[0]}: …")' for t in triggers
    )
    return ctx.t(
        f"本部门的制度中可以登记的是：{zh}。",
        f"This department's policy logs: {en}.",
    )


@router.matcher
def logged_in_chat(event: MessageEvent, policies: Policies) -> Intent | None:
    """``咨询：…`` and friends, and any merged forward, before the keywords. The words of
    every department's policy count here (the asker's department is known only later);
    the handler reads the message again with the asker's own policy."""
    if event.message_type == "merge_forward":
        return Intent(FORWARDED, "zh")
    if event.message_type not in ("text", "post"):
        return None
    for dept in policies:
        hit = match_trigger(dept.policy, event.text)
        if hit is not None:
            return Intent(LOGGED, hit.lang, scope=hit.trigger.key, text=hit.text)
    if m := _USUAL.match(event.text):
        return Intent(LOGGED, "en" if m.group(1).isascii() else "zh", scope="", text="")
    return None


@router.message(LOGGED)
async def on_logged(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = await require_member(ctx)
    if member is None:
        return
    hit = match_trigger(ctx.policy, event.text)  # the asker's department's words
    if hit is None or not ctx.policy.duties_for_trigger(hit.trigger.key):
        await ctx.answer(_what_can_be_logged(ctx), msg_type="text")
        return
    if not hit.text:
        await ctx.answer(ctx.t(*NO_TEXT), msg_type="text")
        return
    view = await start_clock(ctx, member, hit.trigger, event.message_id, hit.text)
    await ctx.answer(build_logged_card(view, ctx.lang))


@router.message(FORWARDED)
async def on_forwarded(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = await require_member(ctx)
    if member is None:
        return
    triggers = _startable(ctx.policy)
    if not triggers:
        await ctx.answer(ctx.t(*NO_TRIGGERS), msg_type="text")
        return
    choices = [(t.key, t.name(ctx.lang)) for t in triggers]
    # Feishu delivers a merged forward without its messages (a placeholder): they are read
    # back; when they cannot be, the card says so and the owner is told whom to ask.
    chat = await forwarded_chat(ctx, event.message_id, within=READ_SECONDS)
    card = build_choose_card(
        event.message_id,
        choices,
        ctx.lang,
        readable=chat is not None,
        logger=member.name,
        preview=chat,
    )
    await ctx.answer(card)


async def offer_to_log(ctx: Ctx, event: MessageEvent) -> bool:
    """A private message that asks for nothing the bot knows may be a user's message a
    member forwarded (Feishu forwards a single message as a copy of its text): answer
    "didn't get that" with a button per trigger. False when that does not apply."""
    member = ctx.member
    if event.is_group or member is None or event.message_type not in ("text", "post"):
        return False
    triggers = _startable(ctx.policy)
    # offered to the roles that answer users (those holding a duty a trigger starts): a
    # planner's "hello" keeps the short pointer to help
    front = {d.role for t in triggers for d in ctx.policy.duties_for_trigger(t.key)}
    if not triggers or member.role_key not in front or not event.text.strip():
        return False
    choices = [(t.key, t.name(ctx.lang)) for t in triggers]
    card = build_choose_card(
        event.message_id, choices, ctx.lang, readable=True, logger=member.name, unknown=True
    )
    await ctx.answer(card)
    return True


@router.action(LogForwarded)
async def on_log_forwarded(ctx: Ctx, click: CardActionEvent, action: LogForwarded) -> dict:
    member = ctx.member
    if member is None:
        return toast("warning", "只有团队成员可以登记。", "Only team members can log questions.")
    row = await stored_message(ctx.session, action.message)
    forwarded = None
    if row is not None:
        try:
            forwarded = message_event(json.loads(row.payload), ctx.services.bot_open_id)
        except (PayloadError, ValueError):
            forwarded = None
    if forwarded is None:
        return toast(
            "warning",
            "找不到这条转发的消息了（只保留一天）：请重新转发，或发送「咨询：用户原话」。",
            'That forwarded message is no longer kept (one day): forward it again, or send "question: <the user\'s words>".',
        )
    if forwarded.sender_open_id != ctx.asker:
        audit(
            ctx.session,
            at=ctx.now,
            action="sla.refused",
            actor=ctx.asker,
            subject=f"message:{action.message}",
        )
        return toast(
            "warning",
            "只有转发这条消息的人可以登记它。",
            "Only the person who forwarded this message can log it.",
        )
    trigger = ctx.policy.triggers.get(action.trigger)
    if trigger is None or not ctx.policy.duties_for_trigger(trigger.key):
        return toast("warning", NO_TRIGGERS[0], NO_TRIGGERS[1])
    text = forwarded.text
    if forwarded.message_type == "merge_forward":  # read again: Feishu holds it, not us
        text = await forwarded_chat(ctx, action.message, within=CLICK_READ_SECONDS) or ""
    text = text or forwarded_text(member.name, ctx.lang)
    view = await start_clock(ctx, member, trigger, action.message, text)
    name_zh, name_en = trigger.name_zh, trigger.name_en
    answer = (
        toast("info", f"这条消息已登记过（{name_zh}）", f"Already logged ({name_en})")
        if view.already
        else toast("success", f"已登记{name_zh}", f"{name_en} logged")
    )
    return with_card(answer, build_logged_card(view, ctx.lang))


async def start_clock(
    ctx: Ctx, logger: Member, trigger: Trigger, message_id: str, text: str
) -> LoggedView:
    """Start the trigger's SLA duties for one logged message (once), send each owner other
    than the logger their task card, and return what the logger's answer shows."""
    key = period_key(message_id)
    existing = await tasks_for_message(ctx.session, key)
    if existing:
        return await _view(ctx, trigger, existing, existing[0].subject or text, logger, True)
    policy, now = ctx.policy, ctx.now
    rows, unowned = [], []
    for duty in policy.duties_for_trigger(trigger.key):
        holders = await role_holders(ctx.session, duty.role, ctx.local_now.date(), ctx.scope)
        owner = choose_owner(duty, logger.open_id, logger.role_key, holders)
        if owner is None:
            role = policy.roles.get(duty.role)
            unowned.append(role.name(ctx.lang) if role else duty.role)
            continue
        due = due_at(policy, ctx.services.calendar, ctx.tz, duty, now)
        rows.append(
            {
                "duty_key": duty.key,
                "assignee_open_id": owner,
                "period_key": key,
                "due_at": due,
                "status": TaskStatus.OPEN,
                "created_at": now,
                "updated_at": now,
                "subject": text,
                "next_action_at": first_action_at(policy, ctx.services.calendar, ctx.tz, due),
                "department": ctx.department,  # the logger's: its policy, its people
            }
        )
    tasks = await insert_sla_tasks(ctx.session, rows)
    audit(
        ctx.session,
        at=now,
        action="sla.logged",
        actor=logger.open_id,
        subject=f"message:{message_id}",
        trigger=trigger.key,
        tasks=[t.id for t in tasks],
        owners=[t.assignee_open_id for t in tasks],
    )
    view = await _view(ctx, trigger, tasks, text, logger, False, tuple(unowned))
    by_owner: dict[str, list[SlaLine]] = {}
    for task, line in zip(tasks, view.lines, strict=True):
        if task.assignee_open_id != logger.open_id:
            by_owner.setdefault(task.assignee_open_id, []).append(line)
    for owner, lines in sorted(by_owner.items()):
        await ctx.send("open_id", owner, build_owner_card(view, lines, ctx.lang))
    await _card_is_the_reminder(ctx, tasks)
    return view


async def _card_is_the_reminder(ctx: Ctx, tasks: list[Task]) -> None:
    """The card that just told each owner about their task stands for the reminder step
    that is current now (a 24-hour SLA is "due tomorrow" at once): the ladder goes on from
    the next step instead of repeating it a minute later."""
    steps, calendar = ctx.policy.reminders, ctx.services.calendar
    today = ctx.local_now.date()
    for task in tasks:
        due = task.due_at.astimezone(ctx.tz).date()
        i = current_step(steps, due, today, calendar)
        if i is not None and "assignee" in steps[i].who and task.id is not None:
            key = marker_key(task.id, due.isoformat(), steps[i].key, task.assignee_open_id)
            await claim_marker(ctx.session, key, ctx.now)


async def _view(
    ctx: Ctx,
    trigger: Trigger,
    tasks: list[Task],
    text: str,
    logger: Member,
    already: bool,
    unowned: tuple[str, ...] = (),
) -> LoggedView:
    names = await names_of(ctx.session, {t.assignee_open_id for t in tasks})
    lines = []
    for task in tasks:
        duty = ctx.policy_of(task.department).duties.get(task.duty_key)
        lines.append(
            SlaLine(
                task_id=task.id or 0,
                duty_name=duty.name(ctx.lang) if duty else task.duty_key,
                owner_name=names.get(task.assignee_open_id, task.assignee_open_id),
                due_at=task.due_at.astimezone(ctx.tz),
                sla=duty.due.describe(ctx.lang) if duty else "",
                action=duty.action if duty else "",
                status=task.status,
                mine=task.assignee_open_id == logger.open_id,
            )
        )
    return LoggedView(
        trigger_name=trigger.name(ctx.lang),
        text=text,
        logger_name=logger.name,
        lines=tuple(lines),
        now=ctx.local_now,
        timezone=ctx.services.settings.timezone,
        already=already,
        unowned=unowned,
    )
