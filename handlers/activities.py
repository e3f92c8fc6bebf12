"""Activities in chat (新建活动 / "new activity": a form for admins and the manager; 活动列表 /
"activities") and leave (请假 / "leave", 销假 / "cancel leave": admins)."""

from __future__ import annotations

import hashlib
import re
from datetime import date

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent, MessageEvent
from bot.dispatch.router import Intent, Router, detect_lang
from bot.domain.activities import ActivityError, ActivityInput
from bot.domain.roster import Roster
from bot.services.activities import activity_view, create_activity
from cards.actions import CreateActivity
from cards.activity_form import (
    PersonOption,
    build_activity_created_card,
    build_activity_form,
    build_activity_list_card,
)
from cards.answers import toast, with_card
from cards.notice import build_notice_card
from storage.activities import activity_tasks, list_activities
from storage.audit import audit
from storage.leave import add_leave, list_leave, remove_leave
from storage.members import load_roster
from storage.models import Marker, Member
from storage.queue import insert_ignore

router = Router(name="activities")

DATE_RE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
MENTION_RE = re.compile(r"@\S+")
OPEN_ID_RE = re.compile(r"\bou_[0-9a-zA-Z_]+")
MAX_LEAVE_DAYS = 366


def may_create_activities(member: Member | None, ctx: Ctx) -> bool:
    """Admins, and members of a role that the activity roles report to and that has
    activity duties itself (the marketing manager)."""
    if member is None:
        return False
    if member.is_admin:
        return True
    policy = ctx.policy
    activity_roles = {d.role for d in policy.activity_duties()}
    bosses = {policy.roles[r].reports_to for r in activity_roles if r in policy.roles}
    return member.role_key in (bosses & activity_roles)


def _refuse(ctx: Ctx, lang: str, zh: str, en: str) -> dict:
    return build_notice_card("DutyBot", zh if lang == "zh" else en, lang, template="orange")


@router.message(
    "activity.new",
    keywords=(
        "新建活动",
        "创建活动",
        "新活动",
        "添加活动",
        "new activity",
        "create activity",
        "add activity",
    ),
)
async def on_new_activity(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    if not may_create_activities(ctx.member, ctx):
        await ctx.answer(
            _refuse(
                ctx,
                intent.lang,
                "只有管理员和市场经理可以新建活动。请联系他们创建。",
                "Only admins and the manager can create activities; please ask one of them.",
            ),
        )
        return
    roster = await load_roster(ctx.session, ctx.policy, ctx.scope)
    owner_roles = [d.role for d in ctx.policy.activity_duties()]
    # the owner is usually a planner: list the roles that carry most activity duties first
    weight = {r: -owner_roles.count(r) for r in set(owner_roles)}
    people = sorted(
        roster.members.values(), key=lambda m: (weight.get(m.role_key, 0), m.name, m.open_id)
    )
    nonce = hashlib.sha256(f"actform:{ctx.source}".encode()).hexdigest()[:24]
    card = build_activity_form(
        intent.lang,
        nonce=nonce,
        people=[PersonOption(m.open_id, m.name) for m in people],
        default_owner=people[0].open_id if people else None,
        today=ctx.local_now.date(),
    )
    await ctx.answer(card)


def _date(value: object) -> date | None:
    """Feishu date pickers send "2026-12-20 +0800"; people type "2026-12-20"."""
    m = DATE_RE.search(str(value or ""))
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _number(value: object) -> float | None:
    text = str(value or "").strip().replace(",", "").replace("，", "").replace("元", "")
    if not text:
        return None
    multiplier = 1.0
    if text.endswith("万"):
        text, multiplier = text[:-1], 10_000.0
    return float(text) * multiplier


def _person(value: object) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get("open_id") or value.get("value") or ""
    return str(value or "").strip()


def parse_form(form: dict) -> tuple[ActivityInput | None, list[str]]:
    errors = []
    start, end = _date(form.get("start")), _date(form.get("end"))
    if start is None:
        errors.append("请选择开始日期 / choose a start date")
    if end is None:
        errors.append("请选择结束日期 / choose an end date")
    try:
        budget = _number(form.get("budget"))
    except ValueError:
        errors.append("预算应为数字 / the budget must be a number")
        budget = None
    try:
        expected_f = _number(form.get("expected"))
        expected = int(expected_f) if expected_f is not None else None
    except ValueError:
        errors.append("预计人数应为整数 / expected attendance must be a whole number")
        expected = None
    mode = form.get("mode") or "offline"
    if isinstance(mode, list):
        mode = mode[0] if mode else "offline"
    if errors or start is None or end is None:
        return None, errors
    return (
        ActivityInput(
            title=str(form.get("title") or "").strip(),
            start=start,
            end=end,
            owner_open_id=_person(form.get("owner")),
            budget=budget,
            mode=str(mode),
            expected_attendance=expected,
        ),
        [],
    )


@router.action(CreateActivity)
async def on_activity_form(ctx: Ctx, click: CardActionEvent, action: CreateActivity) -> dict:
    if not may_create_activities(ctx.member, ctx):
        audit(
            ctx.session,
            at=ctx.now,
            action="activity.create.refused",
            actor=ctx.asker,
            subject="activity",
        )
        return toast(
            "warning",
            "只有管理员和市场经理可以新建活动。",
            "Only admins and the manager can create activities.",
        )
    data, errors = parse_form(click.form_value)
    if data is None:
        return toast(
            "error",
            "；".join(e.split(" / ")[0] for e in errors),
            "; ".join(e.split(" / ")[-1] for e in errors),
        )
    if action.nonce:
        key = f"actform:{action.nonce}"
        if not await insert_ignore(ctx.session, Marker, {"key": key, "created_at": ctx.now}, "key"):
            return toast("info", "这个活动已经创建过了。", "This activity was already created.")
    try:
        change = await create_activity(
            ctx.session, ctx.services, ctx.now, data, created_by=ctx.asker
        )
    except ActivityError as exc:
        await ctx.session.rollback()
        zh = "；".join(e.split(" / ")[-1] for e in exc.errors)
        en = "; ".join(e.split(" / ")[0] for e in exc.errors)
        return toast("error", zh, en)
    roster = await load_roster(ctx.session, ctx.policy, ctx.scope)
    view = activity_view(change.activity, roster)
    card = build_activity_created_card(view, len(change.tasks), ctx.lang)
    return with_card(toast("success", "活动已创建", "Activity created"), card)


@router.message("activity.list", keywords=("活动列表", "查看活动", "list activities", "activities"))
async def on_activity_list(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    if ctx.member is None:
        await ctx.answer(
            _refuse(ctx, intent.lang, "你还不在团队名单中。", "You are not on the team yet."),
        )
        return
    roster = await load_roster(ctx.session, ctx.policy, ctx.scope)
    items = []
    for activity in await list_activities(ctx.session):
        if activity.end_date < ctx.local_now.date().replace(day=1):
            continue  # finished before this month: not interesting in chat
        tasks = await activity_tasks(ctx.session, activity.id)
        items.append(
            (activity_view(activity, roster), len([t for t in tasks if t.status != "cancelled"]))
        )
    await ctx.answer(build_activity_list_card(items, intent.lang))


# -- leave -----------------------------------------------------------------------------


async def _target(ctx: Ctx, event: MessageEvent, roster: Roster) -> Member | None:
    for mention in event.mentions:
        if mention.open_id and mention.open_id != ctx.services.bot_open_id:
            member = roster.get(mention.open_id)
            if member:
                return member
    for token in OPEN_ID_RE.findall(event.text):
        if roster.get(token):
            return roster.get(token)
    by_length = sorted(roster.members.values(), key=lambda m: -len(m.name))
    for member in by_length:
        if member.name and member.name in event.text:
            return member
    return None


LEAVE_USAGE = {
    "zh": "用法：请假 @张三 2026-12-01 2026-12-05（一天可只写一个日期）；销假 @张三 取消当前和以后的请假。",
    "en": "Usage: leave @Zhang 2026-12-01 2026-12-05 (one date for a single day); cancel leave @Zhang removes current and future leave.",
}


@router.message("leave.cancel", keywords=("销假", "取消请假", "cancel leave"))
async def on_cancel_leave(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    await _leave(ctx, event, intent, cancel=True)


@router.message("leave", keywords=("请假", "休假", "leave"))
async def on_leave(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    await _leave(ctx, event, intent, cancel=False)


async def _leave(ctx: Ctx, event: MessageEvent, intent: Intent, *, cancel: bool) -> None:
    lang = detect_lang(MENTION_RE.sub("", event.text))  # a Chinese name is not a Chinese sentence
    sender = ctx.member
    if sender is None or not sender.is_admin:
        await ctx.answer(
            _refuse(
                ctx,
                lang,
                "只有管理员可以登记请假。请联系管理员。",
                "Only admins can record leave; please ask an admin.",
            ),
        )
        return
    roster = await load_roster(ctx.session, ctx.policy, ctx.scope)
    target = await _target(ctx, event, roster)
    today = ctx.local_now.date()
    if cancel:
        if target is None:
            await ctx.answer(LEAVE_USAGE[lang], msg_type="text")
            return
        removed = await remove_leave(ctx.session, target.open_id, today)
        audit(
            ctx.session,
            at=ctx.now,
            action="leave.cancelled",
            actor=sender.open_id,
            subject=target.open_id,
            spans=removed,
        )
        text = (
            f"已为{target.name}取消 {removed} 段请假。"
            if lang == "zh"
            else f"Removed {removed} leave span(s) for {target.name}."
        )
        await ctx.answer(text, msg_type="text")
        return
    dates = [d for d in (_date(m.group(0)) for m in DATE_RE.finditer(event.text)) if d]
    if target is None or not dates:
        current = await list_leave(ctx.session, since=today)
        lines = [LEAVE_USAGE[lang]]
        if current:
            lines.append("当前和以后的请假：" if lang == "zh" else "Current and upcoming leave:")
            lines += [
                f"- {roster.name(lv.open_id)} {lv.start_date} – {lv.end_date}" for lv in current
            ]
        await ctx.answer("\n".join(lines), msg_type="text")
        return
    start, end = dates[0], dates[1] if len(dates) > 1 else dates[0]
    if end < start or (end - start).days > MAX_LEAVE_DAYS:
        msg = (
            "结束日期应在开始日期之后，且不超过一年。"
            if lang == "zh"
            else "The end must follow the start, within a year."
        )
        await ctx.answer(msg, msg_type="text")
        return
    added = await add_leave(ctx.session, target.open_id, start, end, ctx.now)
    audit(
        ctx.session,
        at=ctx.now,
        action="leave.added",
        actor=sender.open_id,
        subject=target.open_id,
        start=start,
        end=end,
    )
    if lang == "zh":
        text = (
            f"已登记：{target.name} {start} 至 {end} 请假。期间不发提醒，到期任务在汇总中记为请假。"
        )
        if not added:
            text = f"{target.name} {start} 至 {end} 的请假已经登记过了。"
    else:
        text = f"Recorded: {target.name} is on leave {start} – {end}. No reminders then; tasks due then are excused in digests."
        if not added:
            text = f"{target.name}'s leave {start} – {end} was already recorded."
    await ctx.answer(text, msg_type="text")
