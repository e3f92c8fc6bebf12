"""Reviewing reports on cards: approve or reject (with a comment), read a field in full,
see the report card again. Authority is the clicking user, checked against the team as
it is now: the current approver (recomputed at click time) or an admin decides; the
author, the current approver and admins read."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent
from bot.dispatch.router import Router
from bot.domain.handoff import GONE
from bot.domain.policy import Duty
from bot.domain.reports import clean_text, display_value
from cards.actions import Approve, FullText, Reject, ViewReport
from cards.answers import with_card
from cards.elements import plain_text
from cards.report_cards import build_decision_notice, build_report_card
from handlers.reports.common import (
    approver_now,
    fmt,
    is_clicked_card,
    load_report,
    may_read,
    refuse,
)
from handlers.reports.texts import T, say, toast_of
from handlers.reports.views import build_view, names_in, report_view, view_data
from storage import reports as store
from storage.audit import audit_soon
from storage.members import names_of
from storage.models import Report, ReportStatus, Task, TaskStatus

router = Router(name="reports.review")

TEXT_MAX_BYTES = 140_000  # a text message may carry 150 KB; leave room for the JSON
COMMENT_MAX = 1000


async def _may_decide(ctx: Ctx, report: Report, task: Task, duty: Duty | None) -> str | None:
    """None if the clicking user may decide; else the T key of the refusal. Admins may
    decide for the approver, in their own department."""
    operator = ctx.asker
    if operator == report.author_open_id:
        return "own_report"
    if ctx.member is None:
        return "not_approver"  # removed from the team (or never on it)
    admin = ctx.member.is_admin and ctx.department == task.department
    if admin or operator == await approver_now(ctx, report, duty):
        return None
    return "not_approver"


def _already(ctx: Ctx, report: Report, names: dict[str, str]) -> dict:
    who = names.get(report.decided_by or "", report.decided_by or "—")
    outcome = T[
        "outcome_approved" if report.status == ReportStatus.APPROVED else "outcome_rejected"
    ]
    when = (fmt(ctx, report.decided_at, "zh"), fmt(ctx, report.decided_at, "en"))
    return toast_of("info", "already", who=who, when=when, outcome=outcome)


async def _decide(ctx: Ctx, click: CardActionEvent, action: Approve | Reject, outcome: str):
    lang = ctx.lang
    found = await load_report(ctx, action.report_id, action.name)
    if isinstance(found, dict):
        return found
    report, task, duty = found
    operator = ctx.asker
    refusal = await _may_decide(ctx, report, task, duty)
    if refusal is not None:
        refuse(ctx, f"report:{report.id}", refusal, action.name)
        approver = await approver_now(ctx, report, duty) or ""
        who = (await names_of(ctx.session, {approver})).get(approver) or T["nobody"]
        return toast_of("error", refusal, who=who)
    comment = click.form_value.get("comment")
    comment = clean_text(comment).strip()[:COMMENT_MAX] if isinstance(comment, str) else ""
    if report.status != ReportStatus.SUBMITTED or action.version != report.version:
        return await _current(ctx, report, task, duty)  # decided meanwhile, or an old card
    if outcome == ReportStatus.REJECTED and not comment:
        return toast_of("error", "need_comment")
    # Everything the answer needs is read before the first write, and the writes come
    # together at the end: SQLite holds its one write lock from the first write to COMMIT.
    data = await view_data(ctx, report, task, duty, also={operator})
    before = (report.approver_open_id, report.approver_card_uuid)
    clicked = await is_clicked_card(ctx, report.approver_card_uuid, click.open_message_id)
    redo = redo_due(ctx, task, duty) if outcome == ReportStatus.REJECTED else None
    won = await store.decide(
        ctx.session,
        report,
        version=action.version,
        status=outcome,
        by=operator,
        at=ctx.now,
        comment=comment or None,
    )
    if not won:  # decided meanwhile: nothing changes, say what is current
        return await _current(ctx, report, task, duty)
    if (report.approver_open_id, report.approver_card_uuid) != before:
        # Re-routed between our read and our UPDATE (PostgreSQL): the row as it is now.
        clicked = await is_clicked_card(ctx, report.approver_card_uuid, click.open_message_id)
    if not names_in(data, report):
        data = await view_data(ctx, report, task, duty)
    if outcome == ReportStatus.APPROVED:
        await store.set_task_state(
            ctx.session,
            task.id,
            status=TaskStatus.APPROVED,
            now=ctx.now,
            done_at=ctx.now,
            task=task,
        )
    else:
        await store.set_task_state(
            ctx.session,
            task.id,
            status=TaskStatus.REJECTED,
            now=ctx.now,
            note=comment,
            due_at=redo,
            task=task,
        )
    await audit_soon(
        ctx.session,
        at=ctx.now,
        action="report.approve" if outcome == ReportStatus.APPROVED else "report.reject",
        actor=operator,
        subject=f"report:{report.id}",
        task=task.id,
        version=report.version,
        comment=comment or None,
        card=click.open_message_id,
        as_admin=operator != report.approver_open_id,
    )
    view = build_view(ctx, report, task, duty, lang, data)
    decided_card = build_report_card(view, lang)
    # The author's summary card, a short notice, and the original approval card when the
    # click came from another copy (a re-sent card, or an admin's).
    await ctx.patch(report.author_card_uuid, build_report_card(view, lang, audience="author"))
    author = data.found.get(report.author_open_id)
    if author is not None and author.active:  # Feishu refuses messages to people who left
        await ctx.send("open_id", report.author_open_id, build_decision_notice(view, lang))
    elif outcome == ReportStatus.REJECTED:
        await _hand_off_redo(ctx, report.author_open_id)
    if report.approver_card_uuid and not clicked:
        await ctx.patch(report.approver_card_uuid, decided_card)
    key = "approved" if outcome == ReportStatus.APPROVED else "rejected"
    return with_card(toast_of("success", key, who=view.author_name), decided_card)


async def _current(ctx: Ctx, report: Report, task: Task, duty: Duty | None) -> dict:
    """The answer to a click that changes nothing: what is current, and why."""
    current = build_report_card(await report_view(ctx, report, task, duty, ctx.lang), ctx.lang)
    if report.status != ReportStatus.SUBMITTED:
        names = await names_of(ctx.session, {report.decided_by or ""})
        return with_card(_already(ctx, report, names), current)
    return with_card(toast_of("warning", "version_changed", n=report.version), current)


async def _hand_off_redo(ctx: Ctx, author: str) -> None:
    """The author left after submitting: the reopened task goes to whoever takes over
    their work (a hand-off card to their manager and the admins), never back to them."""
    from handlers.people import hand_off  # handlers.people builds on this package
    from storage.people import any_member

    gone = await any_member(ctx.session, author)
    if gone is not None:
        await hand_off(ctx, gone, GONE)


def redo_due(ctx: Ctx, task: Task, duty: Duty | None) -> datetime:
    """When a rejected report is due again: the later of its original deadline and the
    policy's redo working days after the rejection (at the duty's time of day), so a
    rejection never moves a deadline earlier."""
    day = ctx.services.calendar.add_workdays(
        ctx.local_now.date(), ctx.policy.rejection_redo_workdays
    )
    at = duty.due.time if duty is not None else ctx.policy.default_due_time
    return max(datetime.combine(day, at, tzinfo=ctx.tz), task.original_due_at or task.due_at)


@router.action(Approve)
async def on_approve(ctx: Ctx, click: CardActionEvent, action: Approve) -> dict:
    return await _decide(ctx, click, action, ReportStatus.APPROVED)


@router.action(Reject)
async def on_reject(ctx: Ctx, click: CardActionEvent, action: Reject) -> dict:
    return await _decide(ctx, click, action, ReportStatus.REJECTED)


@router.action(FullText)
async def on_full_text(ctx: Ctx, click: CardActionEvent, action: FullText) -> dict:
    """One field in full, as a text message (up to ~140 KB) to whoever may read it."""
    lang = ctx.lang
    found = await load_report(ctx, action.report_id, action.name)
    if isinstance(found, dict):
        return found
    report, task, duty = found
    if not await may_read(ctx, report, task, duty):
        refuse(ctx, f"report:{report.id}", "may not read", action.name)
        return toast_of("error", "not_allowed")
    key = action.field_key
    values = store.loads(report.values, {})
    if key not in values:
        return toast_of("warning", "no_field")
    f = (
        next((x for x in duty.report.fields if x.key == key), None)
        if duty and duty.report
        else None
    )
    names = await names_of(ctx.session, {report.author_open_id})
    head = say(
        "full_head",
        lang,
        duty=duty.name(lang) if duty else task.duty_key,
        label=f.label(lang) if f else key,
        author=names.get(report.author_open_id, ""),
        n=report.version,
    )
    # escaped before it is measured (Ctx would escape it anyway: a look-alike is 3 bytes)
    text = plain_text(f"{head}\n{display_value(f, values[key], lang)}")
    if len(json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")) > TEXT_MAX_BYTES:
        cut = text.encode("utf-8")[: TEXT_MAX_BYTES // 2].decode("utf-8", errors="ignore")
        while len(json.dumps({"text": cut}, ensure_ascii=False).encode()) > TEXT_MAX_BYTES - 200:
            cut = cut[: int(len(cut) * 0.9)]
        text = cut + say("cut", lang)
    await ctx.send("open_id", ctx.asker, text, msg_type="text")
    return toast_of("success", "full_sent")


@router.action(ViewReport)
async def on_view(ctx: Ctx, click: CardActionEvent, action: ViewReport) -> dict:
    """The report card again as a new message: the approval card for the approver (or an
    admin), the summary for the author. The new card becomes the one kept up to date."""
    lang = ctx.lang
    found = await load_report(ctx, action.report_id, action.name)
    if isinstance(found, dict):
        return found
    report, task, duty = found
    operator = ctx.asker
    if not await may_read(ctx, report, task, duty):
        refuse(ctx, f"report:{report.id}", "may not read", action.name)
        return toast_of("error", "not_allowed")
    view = await report_view(ctx, report, task, duty, lang)
    if operator == report.author_open_id:
        uuid = ctx.next_uuid()
        view = replace(view, author_card_uuid=uuid)
        await ctx.send(
            "open_id", operator, build_report_card(view, lang, audience="author"), uuid=uuid
        )
        await store.set_card_uuids(ctx.session, report, author_card=uuid)
    else:
        uuid = await ctx.send("open_id", operator, build_report_card(view, lang))
        if report.status == ReportStatus.SUBMITTED and report.approver_open_id in (operator, None):
            await store.set_card_uuids(ctx.session, report, approver_card=uuid)
    return toast_of("success", "view_sent")
