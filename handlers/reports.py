"""Reports: submitting (form card or text), approving and rejecting on cards. (Issue #3.)

Chat intents (registered before the broad "what's due" words):

- submit: 提交周报 / 提交执行报告 / submit weekly report … -> the form card for the task
  the phrase names (a "which one?" picker when several match). With `field: value` lines
  after the first line, the message itself is the report (the power-user path).
- pending approvals: 待审批 / pending approvals -> what waits for the asker, oldest first.
- my reports: 我的报告 / my reports -> the asker's own reports with their status.

Card actions (values are objects; the clicking user's open_id is the only authority):

- ``{"a": "report.open", "v": 1, "t": task_id [, "c": card uuid, "l": lang]}``
- ``{"a": "report.submit", "v": 1, "t": task_id, "l": lang [, "c", "k"]}`` + form_value
- ``{"a": "report.approve" | "report.reject", "v": 1, "r": report_id, "ver": version}``
  (+ form_value ``comment``; required to reject)
- ``{"a": "report.full", "v": 1, "r": report_id, "f": field_key}``: the full text of a field
- ``{"a": "report.view", "v": 1, "r": report_id}``: the report card again, as a new message

`PREFILL[duty_key]` (async, ``(ctx, task) -> {field: value}``) drafts a new report's
default values (other modules register theirs, e.g. the manager's weekly progress).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent, MessageEvent
from bot.dispatch.router import Intent, Router
from bot.domain.policy import Duty, ReportTemplate
from bot.domain.reports import (
    FieldError,
    clean_text,
    display_value,
    duty_match_score,
    evaluate_kpis,
    form_default,
    format_errors,
    kpi_misses,
    names_something,
    parse_text_submission,
    strip_command,
    validate_values,
)
from cards.elements import text_div
from cards.notice import build_not_on_team_card, build_notice_card
from cards.report_cards import (
    FieldRow,
    KpiRow,
    PickItem,
    ReportItem,
    ReportView,
    build_decision_notice,
    build_my_reports_card,
    build_pending_card,
    build_report_card,
    build_task_picker,
)
from cards.report_form import FormField, FormView, build_report_form
from handlers.card_actions import toast
from handlers.views import member_view, resolve_manager
from storage import reports as store
from storage.audit import audit
from storage.members import first_member_with_role, get_duties, get_member, list_admins
from storage.models import Activity, Member, Report, ReportStatus, Task, TaskStatus
from storage.outbox import enqueue, sent_message_id

log = logging.getLogger("dutybot.reports")

router = Router(name="reports")

Prefill = Callable[[Ctx, Task], Awaitable[dict[str, Any]]]
PREFILL: dict[str, Prefill] = {}
"""duty_key -> async (ctx, task) -> default field values (stored units: percent as a
fraction). Used for a new report's form; an edit shows the current version instead."""

CLOSED = (TaskStatus.APPROVED, TaskStatus.DONE, TaskStatus.CANCELLED)
TEXT_MAX_BYTES = 140_000  # a text message may carry 150 KB; leave room for the JSON
COMMENT_MAX = 1000

T: dict[str, tuple[str, str]] = {
    "unknown_task": (
        "找不到这项任务（可能已删除或卡片无效）。请对我说「待办」重新查看。",
        'This task no longer exists (or the card is not valid). Ask me "what\'s due" again.',
    ),
    "unknown_report": (
        "找不到这份报告（可能已删除或卡片无效）。",
        "This report no longer exists (or the card is not valid).",
    ),
    "not_your_task": (
        "这是别人的任务，不能替别人提交。",
        "This is someone else's task; you cannot submit it.",
    ),
    "not_member": (
        "你还不在团队名单里，请联系管理员。",
        "You are not on the team yet; ask an admin.",
    ),
    "no_template": ("这项任务不需要填写报告。", "This task has no report to fill in."),
    "closed": ("这项任务已经关闭（{state}），不能再提交。", "This task is closed ({state})."),
    "form_sent": ("已把表单私信发给你。", "I've sent you the form in a direct message."),
    "invalid": ("请修改后再提交：{errors}", "Please fix and submit again: {errors}"),
    "submitted": ("已提交，等待 {who} 审批。", "Submitted; waiting for {who} to approve."),
    "submitted_outside": ("已提交（{who} 审批）。", "Submitted (approved by {who})."),
    "updated": (
        "已更新为第 {n} 版，审批人的卡片已同步。",
        "Updated to version {n}; the approver's card shows it too.",
    ),
    "resubmitted": (
        "已重新提交（第 {n} 版），等待 {who} 审批。",
        "Resubmitted (version {n}); waiting for {who} to approve.",
    ),
    "unchanged": ("内容没有变化，已是最新版本。", "Nothing changed; this is the latest version."),
    "busy": ("报告刚被修改，请再提交一次。", "The report just changed; please submit again."),
    "not_approver": (
        "只有审批人 {who} 可以审批这份报告。",
        "Only the approver, {who}, can decide on this report.",
    ),
    "own_report": ("不能审批自己的报告。", "You cannot decide on your own report."),
    "already": ("已由 {who} 于 {when} {outcome}。", "Already {outcome} by {who} at {when}."),
    "version_changed": (
        "报告已更新为第 {n} 版，请查看最新内容后再审批。",
        "The report was updated to version {n}; please review it before deciding.",
    ),
    "need_comment": (
        "退回时请在卡片的意见框中写明原因。",
        "Please write the reason in the comment box to reject.",
    ),
    "approved": ("已通过，已通知 {who}。", "Approved; {who} has been told."),
    "rejected": ("已退回，已通知 {who}。", "Rejected; {who} has been told."),
    "full_sent": ("全文已私信发给你。", "The full text is in your direct messages."),
    "view_sent": ("已把报告卡片私信发给你。", "I've sent you the report card."),
    "not_allowed": ("你无权查看这份报告。", "You may not see this report."),
    "no_field": ("这份报告没有这一项。", "This report has no such field."),
    "no_tasks": (
        "目前没有需要提交的报告。说「待办」可查看全部任务。",
        'You have no report to submit right now. Say "what\'s due" for all your tasks.',
    ),
    "form_in_group": (
        "报告表单已私信发给你，请在私聊中填写。",
        "I've sent you the report form in a direct message.",
    ),
    "ambiguous": (
        "有几份报告都符合，请在第一行写明是哪一份，例如「提交{example}」。可提交的有：{names}",
        'Several reports match; name it on the first line, e.g. "submit {example}". Open: {names}',
    ),
    "text_failed_title": ("报告未提交", "Report not submitted"),
    "text_help": (
        "格式：第一行写「提交{duty}」，之后每行一个「字段: 值」。可以用中文或英文字段名。本报告的字段：",
        'Format: "submit {duty}" on the first line, then one "field: value" per line '
        "(Chinese or English names). The fields:",
    ),
    "required": ("必填", "required"),
    "outcome_approved": ("通过", "approved"),
    "outcome_rejected": ("退回", "rejected"),
    "state_approved": ("已通过", "approved"),
    "state_done": ("已完成", "done"),
    "state_cancelled": ("已取消", "cancelled"),
    "full_head": (
        "{duty} · {label}（{author}，第 {n} 版）：",
        "{duty} · {label} ({author}, v{n}):",
    ),
    "cut": ("……（过长，已截断）", "… (too long, cut)"),
    "nobody": ("（部门内无审批人）", "(no approver in the department)"),
}

TYPE_NAMES = {
    "integer": ("整数", "whole number"),
    "number": ("数字", "number"),
    "money": ("金额", "amount"),
    "percent": ("百分数，如 85%", "percent, e.g. 85%"),
    "text": ("短文本", "short text"),
    "longtext": ("长文本，可多行", "long text, may span lines"),
    "date": ("日期，如 2026-11-27", "date, e.g. 2026-11-27"),
    "choice": ("选项", "one of"),
    "person": ("人员，可 @ 或写姓名", "person: @-mention or name"),
}


def _t(key: str, lang: str, **kw: Any) -> str:
    zh, en = T[key]
    return (en if lang == "en" else zh).format(**kw)


def _toast(kind: str, key: str, **kw: Any) -> dict:
    """A toast in both languages; `kw` values may be (zh, en) pairs."""
    zh_kw = {k: v[0] if isinstance(v, tuple) else v for k, v in kw.items()}
    en_kw = {k: v[1] if isinstance(v, tuple) else v for k, v in kw.items()}
    return toast(kind, T[key][0].format(**zh_kw), T[key][1].format(**en_kw))


def _lang(event: CardActionEvent) -> str:
    lang = event.value.get("l")
    return lang if lang in ("zh", "en") else "zh"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 18:
        return int(value)
    return None


def _local(ctx: Ctx, dt: datetime | None) -> datetime | None:
    return dt.astimezone(ctx.tz) if dt is not None else None


def _fmt(ctx: Ctx, dt: datetime | None, lang: str) -> str:
    from cards.i18n import format_day_time

    return format_day_time(dt.astimezone(ctx.tz), lang, ref=ctx.local_now) if dt else "—"


# -- lookups -----------------------------------------------------------------------------


async def _duty(ctx: Ctx, key: str) -> Duty | None:
    """The duty from the policy, or from its database snapshot if the policy dropped it."""
    duty = ctx.policy.duties.get(key)
    if duty is not None:
        return duty
    row = (await get_duties(ctx.session, {key})).get(key)
    if row is None:
        return None
    try:
        return Duty.from_json(json.loads(row.spec), ctx.policy.default_due_time)
    except Exception:
        log.warning("duty %s: cannot read its stored snapshot", key)
        return None


async def _approver_for(ctx: Ctx, author: Member, duty: Duty) -> Member | None:
    """The policy's approver role, the team file's `manager` overriding the default."""
    role_key = ctx.policy.approver_role_for(duty)
    if role_key is None:
        return None  # approved outside the department (management)
    if duty.approver_role is None:
        approver = await resolve_manager(ctx, author)
    else:
        approver = await first_member_with_role(ctx.session, role_key)
    if approver is None or approver.open_id == author.open_id or not approver.active:
        return None
    return approver


async def _names(ctx: Ctx, open_ids: set[str]) -> dict[str, str]:
    ids = {i for i in open_ids if i}
    if not ids:
        return {}
    rows = (await ctx.session.exec(select(Member).where(col(Member.open_id).in_(ids)))).all()
    return {m.open_id: m.name for m in rows}


async def _period(ctx: Ctx, task: Task) -> str:
    if task.activity_id:
        activity = await ctx.session.get(Activity, task.activity_id)
        if activity is not None:
            return activity.title
    return task.period_key if not task.period_key.startswith("act:") else ""


async def _card_is(ctx: Ctx, uuid: Any, message_id: str) -> bool:
    """True if the outbox message `uuid` is the card that was clicked (so a value naming a
    card can be trusted to mean *this* card, never another one)."""
    if not isinstance(uuid, str) or not uuid or not message_id or len(uuid) > 50:
        return False
    _, sent_id = await sent_message_id(ctx.session, uuid)
    return sent_id == message_id


async def _send(ctx: Ctx, open_id: str, body: dict | str, msg_type: str = "interactive") -> str:
    """A direct message to a member; returns its outbox uuid."""
    return await ctx.send("open_id", open_id, body, msg_type)


async def _answer(
    ctx: Ctx,
    event: MessageEvent,
    body: dict | str,
    msg_type: str = "interactive",
    uuid: str | None = None,
) -> str:
    return await ctx.answer(event, body, msg_type, uuid=uuid)


async def _patch(ctx: Ctx, target_uuid: str | None, body: dict) -> None:
    if target_uuid:
        await ctx.patch(target_uuid, body)


# -- views -------------------------------------------------------------------------------


async def _report_view(
    ctx: Ctx, report: Report, task: Task, duty: Duty | None, lang: str
) -> ReportView:
    values = store.loads(report.values, {})
    kpis = store.loads(report.kpis, [])
    template = duty.report if duty else None
    person_ids = set()
    if template:
        person_ids = {
            str(values.get(f.key))
            for f in template.fields
            if f.type == "person" and values.get(f.key)
        }
    names = await _names(
        ctx,
        {report.author_open_id, report.approver_open_id or "", report.decided_by or ""}
        | person_ids,
    )
    author = await get_member(ctx.session, report.author_open_id)
    role = ctx.policy.roles.get(author.role_key) if author else None
    rows: list[FieldRow] = []
    seen = set()
    for f in template.fields if template else ():
        seen.add(f.key)
        rows.append(
            FieldRow(f.key, f.label(lang), display_value(f, values.get(f.key), lang, names))
        )
    for key, value in values.items():  # values of fields the policy no longer has
        if key not in seen:
            rows.append(FieldRow(key, key, display_value(None, value, lang)))
    kpi_rows = tuple(
        KpiRow(
            label=str(k.get("label_en" if lang == "en" else "label_zh") or k.get("key", "")),
            display=str(k.get("display") or "—"),
            op=str(k.get("op") or ">="),
            threshold_display=str(k.get("threshold_display") or ""),
            ok=k.get("ok") if isinstance(k.get("ok"), bool) else None,
        )
        for k in kpis
        if isinstance(k, dict)
    )
    outside = ""
    if duty is not None and report.approver_open_id is None:
        outside = ctx.policy.approver_label(duty, lang)
    submitted = report.submitted_at
    latest = await _latest_version_time(ctx, report)
    return ReportView(
        report_id=report.id or 0,
        task_id=task.id or 0,
        version=report.version,
        status=report.status,
        duty_name=duty.name(lang) if duty else task.duty_key,
        period=await _period(ctx, task),
        author_name=names.get(report.author_open_id, report.author_open_id),
        author_role=role.name(lang) if role else "",
        approver_name=names.get(report.approver_open_id) if report.approver_open_id else None,
        approver_label=outside,
        due_at=task.due_at.astimezone(ctx.tz),
        submitted_at=(latest or submitted).astimezone(ctx.tz),
        late=submitted > task.due_at,
        now=ctx.local_now,
        fields=tuple(rows),
        kpis=kpi_rows,
        decided_by_name=names.get(report.decided_by or "", report.decided_by),
        decided_at=_local(ctx, report.decided_at),
        comment=report.comment,
        author_card_uuid=report.author_card_uuid,
    )


async def _latest_version_time(ctx: Ctx, report: Report) -> datetime | None:
    from storage.models import ReportVersion

    stmt = select(ReportVersion.submitted_at).where(
        ReportVersion.report_id == report.id, ReportVersion.version == report.version
    )
    return (await ctx.session.exec(stmt)).first()


async def _form_view(
    ctx: Ctx,
    task: Task,
    duty: Duty,
    report: Report | None,
    lang: str,
    card_uuid: str | None,
) -> FormView:
    template = duty.report
    assert template is not None
    defaults: dict[str, Any] = {}
    if report is not None:
        defaults = store.loads(report.values, {})
    elif task.duty_key in PREFILL:
        try:
            drafted = await PREFILL[task.duty_key](ctx, task)
            defaults = dict(drafted or {})
        except Exception:
            log.exception("prefill for %s failed; the form starts empty", task.duty_key)
    people: tuple[str, ...] = ()
    if any(f.type == "person" for f in template.fields):
        rows = (
            await ctx.session.exec(
                select(Member.open_id).where(Member.active).order_by(Member.name)
            )
        ).all()
        people = tuple(rows)
    fields = tuple(
        FormField(
            key=f.key,
            type=f.type,
            label=f.label(lang),
            required=f.required,
            hint=f.hint(lang),
            unit=f.unit,
            default=form_default(f, defaults.get(f.key)),
            choices=tuple((c.key, c.label(lang)) for c in f.choices),
            people=people,
            max_length=f.max_length,
        )
        for f in template.fields
    )
    rejected = report is not None and report.status == ReportStatus.REJECTED
    return FormView(
        task_id=task.id or 0,
        duty_name=duty.name(lang),
        period=await _period(ctx, task),
        due_at=task.due_at.astimezone(ctx.tz),
        now=ctx.local_now,
        fields=fields,
        version=(report.version + 1) if report else 1,
        comment=(report.comment or task.note) if rejected else None,
        card_uuid=card_uuid,
    )


# -- submitting --------------------------------------------------------------------------


@dataclass
class Submitted:
    report: Report
    kind: str  # created | edited | resubmitted | unchanged
    approver: Member | None = None


@dataclass
class Refused:
    key: str  # a T key
    kw: dict[str, Any] = field(default_factory=dict)


async def _people_resolver(ctx: Ctx, event: MessageEvent | None) -> Callable[[str], str | None]:
    by_name: dict[str, str] = {}
    for m in (await ctx.session.exec(select(Member).where(Member.active))).all():
        by_name.setdefault(m.name, m.open_id)
    if event is not None:
        for mention in event.mentions:
            if mention.open_id and mention.name:
                by_name[mention.name] = mention.open_id
    return lambda name: by_name.get(name)


def _closed_state(task: Task) -> tuple[str, str]:
    return T.get(f"state_{task.status}", (task.status, task.status))


async def _submit(
    ctx: Ctx,
    *,
    task: Task,
    duty: Duty,
    author: Member,
    values: dict[str, Any],
    via: str,
    lang: str,
    card: str,
) -> Submitted | Refused:
    """Store a validated submission: a new report, an edit (still pending) or a
    resubmission (after a rejection). Queues the approver's card (new or patched)."""
    template = duty.report
    assert template is not None
    if task.status in CLOSED:
        return Refused("closed", {"state": _closed_state(task)})
    kpis = evaluate_kpis(template, values)
    for _attempt in range(3):
        report = await store.report_for_task(ctx.session, task.id)
        if report is None:
            approver = await _approver_for(ctx, author, duty)
            report = await store.create_report(
                ctx.session,
                task=task,
                author=author.open_id,
                approver=approver.open_id if approver else None,
                values=values,
                kpis=kpis,
                now=ctx.now,
                via=via,
            )
            if report is None:
                continue  # a concurrent submit created it: treat this one as an edit
            await store.set_task_state(
                ctx.session, task.id, status=TaskStatus.SUBMITTED, now=ctx.now
            )
            audit(
                ctx.session,
                at=ctx.now,
                action="report.submit",
                actor=author.open_id,
                subject=f"report:{report.id}",
                task=task.id,
                duty=task.duty_key,
                version=1,
                via=via,
                card=card,
                approver=report.approver_open_id,
                kpi_misses=kpi_misses(kpis),
            )
            if approver is not None:
                view = await _report_view(ctx, report, task, duty, lang)
                uuid = await _send(ctx, approver.open_id, build_report_card(view, lang))
                await store.set_card_uuids(ctx.session, report, approver_card=uuid)
            return Submitted(report, "created", approver)

        if report.status == ReportStatus.APPROVED:
            return Refused("closed", {"state": T["state_approved"]})
        if report.status == ReportStatus.SUBMITTED and store.loads(report.values, {}) == values:
            return Submitted(report, "unchanged")
        was = report.status
        if not await store.new_version(
            ctx.session, report, values=values, kpis=kpis, now=ctx.now, via=via
        ):
            await store.reload(ctx.session, report)
            continue
        await store.set_task_state(ctx.session, task.id, status=TaskStatus.SUBMITTED, now=ctx.now)
        kind = "resubmitted" if was == ReportStatus.REJECTED else "edited"
        audit(
            ctx.session,
            at=ctx.now,
            action="report.resubmit" if kind == "resubmitted" else "report.edit",
            actor=author.open_id,
            subject=f"report:{report.id}",
            task=task.id,
            version=report.version,
            via=via,
            card=card,
            kpi_misses=kpi_misses(kpis),
        )
        approver = (
            await get_member(ctx.session, report.approver_open_id)
            if report.approver_open_id
            else None
        )
        if report.approver_open_id:
            view = await _report_view(ctx, report, task, duty, lang)
            approval = build_report_card(view, lang)
            if kind == "edited" and report.approver_card_uuid:
                await _patch(ctx, report.approver_card_uuid, approval)  # the same card, in place
            else:  # a resubmission is new work for the approver: a new card notifies them
                uuid = await _send(ctx, report.approver_open_id, approval)
                await store.set_card_uuids(ctx.session, report, approver_card=uuid)
        return Submitted(report, kind, approver)
    return Refused("busy")


def _submitted_message(result: Submitted, lang: str, ctx: Ctx, duty: Duty) -> tuple[str, str]:
    """(zh, en) of what happened."""
    who = result.approver.name if result.approver else None
    out = []
    for lg in ("zh", "en"):
        if result.kind == "unchanged":
            out.append(_t("unchanged", lg))
        elif result.kind == "edited":
            out.append(_t("updated", lg, n=result.report.version))
        elif who is None:
            out.append(_t("submitted_outside", lg, who=ctx.policy.approver_label(duty, lg)))
        elif result.kind == "resubmitted":
            out.append(_t("resubmitted", lg, n=result.report.version, who=who))
        else:
            out.append(_t("submitted", lg, who=who))
    return out[0], out[1]


# -- card actions: open and submit -------------------------------------------------------


async def _refuse(ctx: Ctx, event: CardActionEvent, subject: str, reason: str) -> None:
    """A refused click is in the audit log: who, what, which card."""
    audit(
        ctx.session,
        at=ctx.now,
        action="report.refused",
        actor=event.operator_open_id,
        subject=subject,
        what=str(event.value.get("a"))[:40],
        reason=reason,
        card=event.open_message_id,
        chat=event.open_chat_id,
    )


async def _task_for_click(ctx: Ctx, event: CardActionEvent) -> tuple[Task, Duty] | dict:
    task_id = _int(event.value.get("t"))
    task = await ctx.session.get(Task, task_id) if task_id is not None else None
    duty = await _duty(ctx, task.duty_key) if task is not None else None
    if task is None or duty is None:
        await _refuse(ctx, event, f"task:{event.value.get('t')!s:.40}", "unknown task")
        return _toast("warning", "unknown_task")
    if task.assignee_open_id != event.operator_open_id:
        await _refuse(ctx, event, f"task:{task.id}", "not the assignee")
        return _toast("error", "not_your_task")
    if duty.report is None:
        return _toast("info", "no_template")
    return task, duty


@router.action("report.open")
async def on_open(ctx: Ctx, event: CardActionEvent) -> dict:
    """The form for a task: in place on our own card (picker, summary), else a new message."""
    lang = _lang(event)
    found = await _task_for_click(ctx, event)
    if isinstance(found, dict):
        return found
    task, duty = found
    if task.status in CLOSED:
        return _toast("info", "closed", state=_closed_state(task))
    report = await store.report_for_task(ctx.session, task.id)
    if report is not None and report.status == ReportStatus.APPROVED:
        return _toast("info", "closed", state=T["state_approved"])
    card_uuid = event.value.get("c")
    if await _card_is(ctx, card_uuid, event.open_message_id):
        view = await _form_view(ctx, task, duty, report, lang, card_uuid)
        return {"card": {"type": "raw", "data": build_report_form(view, lang)}}
    uuid = ctx.next_uuid()
    view = await _form_view(ctx, task, duty, report, lang, uuid)
    await enqueue(
        ctx.session,
        uuid=uuid,
        now=ctx.now,
        kind="send",
        body=build_report_form(view, lang),
        receive_id_type="open_id",
        receive_id=event.operator_open_id,
    )
    return _toast("success", "form_sent")


@router.action("report.submit")
async def on_submit_form(ctx: Ctx, event: CardActionEvent) -> dict:
    """The form's submit button: validate, store, answer with the read-only summary."""
    lang = _lang(event)
    found = await _task_for_click(ctx, event)
    if isinstance(found, dict):
        return found
    task, duty = found
    author = await get_member(ctx.session, event.operator_open_id)
    if author is None:
        return _toast("error", "not_member")
    template = duty.report
    assert template is not None
    previous = await store.report_for_task(ctx.session, task.id)
    keep = None
    kept_keys = event.value.get("k")
    if previous is not None and isinstance(kept_keys, list):
        old = store.loads(previous.values, {})
        keep = {k: old.get(k) for k in kept_keys if isinstance(k, str)}
    values, errors = validate_values(
        template,
        event.form_value,
        today=ctx.local_now.date(),
        people=await _people_resolver(ctx, None) if _has_person(template) else None,
        keep=keep,
    )
    if errors:  # no card in the answer: the form keeps what was typed
        return toast(
            "error",
            _t("invalid", "zh", errors=format_errors(errors, "zh")),
            _t("invalid", "en", errors=format_errors(errors, "en")),
        )
    result = await _submit(
        ctx,
        task=task,
        duty=duty,
        author=author,
        values=values,
        via="form",
        lang=lang,
        card=event.open_message_id,
    )
    if isinstance(result, Refused):
        return _toast("warning", result.key, **result.kw)
    report = result.report
    card_uuid = event.value.get("c")
    if await _card_is(ctx, card_uuid, event.open_message_id):
        await store.set_card_uuids(ctx.session, report, author_card=card_uuid)
    view = await _report_view(ctx, report, task, duty, lang)
    zh, en = _submitted_message(result, lang, ctx, duty)
    return {
        **toast("success", zh, en),
        "card": {"type": "raw", "data": build_report_card(view, lang, audience="author")},
    }


def _has_person(template: ReportTemplate) -> bool:
    return any(f.type == "person" for f in template.fields)


# -- card actions: decisions -------------------------------------------------------------


async def _may_decide(ctx: Ctx, report: Report, operator: str) -> str | None:
    """None if `operator` may decide; else the T key of the refusal."""
    if operator == report.author_open_id:
        return "own_report"
    if report.approver_open_id and operator == report.approver_open_id:
        return None
    member = await get_member(ctx.session, operator)
    if member is not None and member.is_admin:
        return None
    return "not_approver"


def _already(ctx: Ctx, report: Report, names: dict[str, str]) -> dict:
    who = names.get(report.decided_by or "", report.decided_by or "—")
    outcome = T[
        "outcome_approved" if report.status == ReportStatus.APPROVED else "outcome_rejected"
    ]
    when = (_fmt(ctx, report.decided_at, "zh"), _fmt(ctx, report.decided_at, "en"))
    return _toast("info", "already", who=who, when=when, outcome=outcome)


async def _load_for_decision(
    ctx: Ctx, event: CardActionEvent
) -> tuple[Report, Task, Duty | None] | dict:
    report_id = _int(event.value.get("r"))
    report = await store.get_report(ctx.session, report_id) if report_id is not None else None
    task = await ctx.session.get(Task, report.task_id) if report is not None else None
    if report is None or task is None:
        await _refuse(ctx, event, f"report:{event.value.get('r')!s:.40}", "unknown report")
        return _toast("warning", "unknown_report")
    return report, task, await _duty(ctx, task.duty_key)


async def _decide(ctx: Ctx, event: CardActionEvent, outcome: str) -> dict:
    lang = _lang(event)
    found = await _load_for_decision(ctx, event)
    if isinstance(found, dict):
        return found
    report, task, duty = found
    operator = event.operator_open_id
    refusal = await _may_decide(ctx, report, operator)
    if refusal is not None:
        await _refuse(ctx, event, f"report:{report.id}", refusal)
        approver = report.approver_open_id or ""
        who = (await _names(ctx, {approver})).get(approver) or T["nobody"]
        return _toast("error", refusal, who=who)
    comment = event.form_value.get("comment") if isinstance(event.form_value, dict) else None
    comment = clean_text(comment).strip()[:COMMENT_MAX] if isinstance(comment, str) else ""
    version = _int(event.value.get("ver"))
    if report.status == ReportStatus.SUBMITTED and version == report.version:
        if outcome == ReportStatus.REJECTED and not comment:
            return _toast("error", "need_comment")
        won = await store.decide(
            ctx.session,
            report,
            version=version,
            status=outcome,
            by=operator,
            at=ctx.now,
            comment=comment or None,
        )
    else:
        won = False
    if not won:  # decided meanwhile, or an old card: nothing changes, say what is current
        current = await _report_view(ctx, report, task, duty, lang)
        card = {"card": {"type": "raw", "data": build_report_card(current, lang)}}
        if report.status != ReportStatus.SUBMITTED:
            names = await _names(ctx, {report.decided_by or ""})
            return {**_already(ctx, report, names), **card}
        return {**_toast("warning", "version_changed", n=report.version), **card}

    if outcome == ReportStatus.APPROVED:
        await store.set_task_state(
            ctx.session, task.id, status=TaskStatus.APPROVED, now=ctx.now, done_at=ctx.now
        )
    else:
        await store.set_task_state(
            ctx.session,
            task.id,
            status=TaskStatus.REJECTED,
            now=ctx.now,
            note=comment,
            due_at=_redo_due(ctx, duty),
        )
    await ctx.session.refresh(task)
    audit(
        ctx.session,
        at=ctx.now,
        action="report.approve" if outcome == ReportStatus.APPROVED else "report.reject",
        actor=operator,
        subject=f"report:{report.id}",
        task=task.id,
        version=report.version,
        comment=comment or None,
        card=event.open_message_id,
        as_admin=operator != report.approver_open_id,
    )
    view = await _report_view(ctx, report, task, duty, lang)
    decided_card = build_report_card(view, lang)
    # The author's summary card, a short notice, and the original approval card when the
    # click came from another copy (a re-sent card, or an admin's).
    await _patch(ctx, report.author_card_uuid, build_report_card(view, lang, audience="author"))
    await _send(ctx, report.author_open_id, build_decision_notice(view, lang))
    if report.approver_card_uuid and not await _card_is(
        ctx, report.approver_card_uuid, event.open_message_id
    ):
        await _patch(ctx, report.approver_card_uuid, decided_card)
    author_name = view.author_name
    key = "approved" if outcome == ReportStatus.APPROVED else "rejected"
    return {
        **_toast("success", key, who=author_name),
        "card": {"type": "raw", "data": decided_card},
    }


def _redo_due(ctx: Ctx, duty: Duty | None) -> datetime:
    """The new due date of a rejected task: N working days after the decision, at the
    duty's due time of day (team time zone)."""
    local = ctx.local_now
    day = ctx.services.calendar.add_workdays(local.date(), ctx.policy.rejection_redo_workdays)
    at = duty.due.time if duty is not None else ctx.policy.default_due_time
    return datetime.combine(day, at, tzinfo=ctx.tz)


@router.action("report.approve")
async def on_approve(ctx: Ctx, event: CardActionEvent) -> dict:
    return await _decide(ctx, event, ReportStatus.APPROVED)


@router.action("report.reject")
async def on_reject(ctx: Ctx, event: CardActionEvent) -> dict:
    return await _decide(ctx, event, ReportStatus.REJECTED)


# -- card actions: reading ---------------------------------------------------------------


async def _may_read(ctx: Ctx, report: Report, operator: str) -> bool:
    if operator in (report.author_open_id, report.approver_open_id):
        return True
    member = await get_member(ctx.session, operator)
    return bool(member and member.is_admin)


def _no_at(text: str) -> str:
    """Text messages render <at …> tags: break them so report text can never ping anyone."""
    return re.sub(r"<(\s*/?\s*at\b)", "<\u200b\\1", text, flags=re.IGNORECASE)


@router.action("report.full")
async def on_full_text(ctx: Ctx, event: CardActionEvent) -> dict:
    """One field in full, as a text message (up to ~140 KB) to whoever may read it."""
    lang = _lang(event)
    found = await _load_for_decision(ctx, event)
    if isinstance(found, dict):
        return found
    report, task, duty = found
    if not await _may_read(ctx, report, event.operator_open_id):
        await _refuse(ctx, event, f"report:{report.id}", "may not read")
        return _toast("error", "not_allowed")
    key = event.value.get("f")
    values = store.loads(report.values, {})
    if not isinstance(key, str) or key not in values:
        return _toast("warning", "no_field")
    f = (
        next((x for x in duty.report.fields if x.key == key), None)
        if duty and duty.report
        else None
    )
    names = await _names(ctx, {report.author_open_id})
    head = _t(
        "full_head",
        lang,
        duty=duty.name(lang) if duty else task.duty_key,
        label=f.label(lang) if f else key,
        author=names.get(report.author_open_id, ""),
        n=report.version,
    )
    body = display_value(f, values[key], lang)
    text = _no_at(f"{head}\n{body}")
    encoded = text.encode("utf-8")
    if len(json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")) > TEXT_MAX_BYTES:
        cut = encoded[: TEXT_MAX_BYTES // 2].decode("utf-8", errors="ignore")
        while len(json.dumps({"text": cut}, ensure_ascii=False).encode()) > TEXT_MAX_BYTES - 200:
            cut = cut[: int(len(cut) * 0.9)]
        text = cut + _t("cut", lang)
    await _send(ctx, event.operator_open_id, text, msg_type="text")
    return _toast("success", "full_sent")


@router.action("report.view")
async def on_view(ctx: Ctx, event: CardActionEvent) -> dict:
    """The report card again as a new message: the approval card for the approver (or an
    admin), the summary for the author. The new card becomes the one kept up to date."""
    lang = _lang(event)
    found = await _load_for_decision(ctx, event)
    if isinstance(found, dict):
        return found
    report, task, duty = found
    operator = event.operator_open_id
    if not await _may_read(ctx, report, operator):
        await _refuse(ctx, event, f"report:{report.id}", "may not read")
        return _toast("error", "not_allowed")
    view = await _report_view(ctx, report, task, duty, lang)
    if operator == report.author_open_id:
        uuid = ctx.next_uuid()
        view = replace(view, author_card_uuid=uuid)
        await enqueue(
            ctx.session,
            uuid=uuid,
            now=ctx.now,
            kind="send",
            body=build_report_card(view, lang, audience="author"),
            receive_id_type="open_id",
            receive_id=operator,
        )
        await store.set_card_uuids(ctx.session, report, author_card=uuid)
    else:
        uuid = await _send(ctx, operator, build_report_card(view, lang))
        if report.status == ReportStatus.SUBMITTED and report.approver_open_id in (operator, None):
            await store.set_card_uuids(ctx.session, report, approver_card=uuid)
    return _toast("success", "view_sent")


# -- chat intents ------------------------------------------------------------------------


async def _member_or_explain(ctx: Ctx, event: MessageEvent, lang: str) -> Member | None:
    member = await get_member(ctx.session, event.sender_open_id)
    if member is None:
        admins = [await member_view(ctx, a, lang) for a in await list_admins(ctx.session)]
        await ctx.answer(event, build_not_on_team_card(None, admins, lang))
    return member


@router.message(
    "report.mine",
    keywords=("我的报告", "我的汇报", "我提交的", "报告状态", "my reports", "report status"),
)
async def on_my_reports(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    if re.match(r"^(提交|填报|submit)", intent.text):
        await on_submit(ctx, event, intent)  # "提交我的报告" is a submission
        return
    member = await _member_or_explain(ctx, event, intent.lang)
    if member is None:
        return
    lang = intent.lang
    reports = await store.by_author(ctx.session, member.open_id)
    tasks = await store.tasks_by_id(ctx.session, [r.task_id for r in reports])
    names = await _names(ctx, {r.approver_open_id or "" for r in reports})
    items = []
    for r in reports:
        task = tasks.get(r.task_id)
        duty = await _duty(ctx, r.duty_key)
        items.append(
            ReportItem(
                report_id=r.id or 0,
                duty_name=duty.name(lang) if duty else r.duty_key,
                period=await _period(ctx, task) if task else "",
                author_name=member.name,
                status=r.status,
                version=r.version,
                submitted_at=r.submitted_at.astimezone(ctx.tz),
                approver_name=names.get(r.approver_open_id or ""),
                decided_at=_local(ctx, r.decided_at),
                comment=r.comment,
            )
        )
    await ctx.answer(event, build_my_reports_card(items, ctx.local_now, lang))


@router.message(
    "report.pending",
    keywords=(
        "待审批",
        "待我审批",
        "待批",
        "审批列表",
        "要审批",
        "需要审批",
        "pending approvals",
        "pending approval",
        "approvals",
        "to approve",
        "awaiting my approval",
    ),
)
async def on_pending(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = await _member_or_explain(ctx, event, intent.lang)
    if member is None:
        return
    lang = intent.lang
    reports = await store.pending_for(
        ctx.session, member.open_id, include_unassigned=member.is_admin
    )
    tasks = await store.tasks_by_id(ctx.session, [r.task_id for r in reports])
    names = await _names(ctx, {r.author_open_id for r in reports})
    items = []
    for r in reports:
        task = tasks.get(r.task_id)
        duty = await _duty(ctx, r.duty_key)
        items.append(
            ReportItem(
                report_id=r.id or 0,
                duty_name=duty.name(lang) if duty else r.duty_key,
                period=await _period(ctx, task) if task else "",
                author_name=names.get(r.author_open_id, r.author_open_id),
                status=r.status,
                version=r.version,
                submitted_at=r.submitted_at.astimezone(ctx.tz),
                kpi_misses=kpi_misses(store.loads(r.kpis, [])),
                late=bool(task and r.submitted_at > task.due_at),
                note=_t("nobody", lang) if r.approver_open_id is None else None,
            )
        )
    await ctx.answer(event, build_pending_card(items, ctx.local_now, lang))


SUBMIT_WORDS = (
    "提交",
    "填报",
    "交周报",
    "交月报",
    "交报告",
    "写周报",
    "submit",
    "file a report",
    "file my report",
)


@dataclass
class _Candidates:
    tasks: list[Task]
    duties: dict[str, Duty]
    nomatch: bool  # the phrase named nothing: these are all the open report tasks


async def _candidates(ctx: Ctx, member: Member, phrase: str, *, earliest_only: bool) -> _Candidates:
    """The open report tasks the phrase names: per duty the earliest still to submit (and
    any pending one due before it, which may still be edited)."""
    stmt = (
        select(Task)
        .where(
            Task.assignee_open_id == member.open_id,
            col(Task.status).in_(TaskStatus.OPEN_STATES),
        )
        .order_by(Task.due_at, Task.id)
    )
    tasks = list((await ctx.session.exec(stmt)).all())
    duties: dict[str, Duty] = {}
    for key in {t.duty_key for t in tasks}:
        duty = await _duty(ctx, key)
        if duty is not None and duty.report is not None:
            duties[key] = duty
    tasks = [t for t in tasks if t.duty_key in duties]
    scores = {key: duty_match_score(phrase, d) for key, d in duties.items()}
    best = max(scores.values(), default=0)
    nomatch = best == 0
    if not nomatch:
        tasks = [t for t in tasks if scores[t.duty_key] == best]
    chosen: list[Task] = []
    for key in dict.fromkeys(t.duty_key for t in tasks):
        mine = [t for t in tasks if t.duty_key == key]
        if earliest_only:
            chosen.append(mine[0])
            continue
        for t in mine:
            chosen.append(t)
            if t.status != TaskStatus.SUBMITTED:
                break
    chosen.sort(key=lambda t: (t.due_at, t.id))
    return _Candidates(chosen, duties, nomatch and names_something(phrase))


@router.message("report.submit", keywords=SUBMIT_WORDS)
async def on_submit(ctx: Ctx, event: MessageEvent, intent: Intent) -> None:
    member = await _member_or_explain(ctx, event, intent.lang)
    if member is None:
        return
    lang = intent.lang
    lines = [line for line in clean_text(event.text).split("\n") if line.strip()]
    first = lines[0] if lines else ""
    phrase = strip_command(first)
    if len(lines) >= 2:
        await _submit_text(ctx, event, member, phrase, lang)
        return
    found = await _candidates(ctx, member, phrase, earliest_only=False)
    if not found.tasks:
        await ctx.answer(event, _t("no_tasks", lang), msg_type="text")
        return
    if len(found.tasks) == 1 and not found.nomatch:
        task = found.tasks[0]
        duty = found.duties[task.duty_key]
        report = await store.report_for_task(ctx.session, task.id)
        uuid = ctx.next_uuid()
        form = build_report_form(await _form_view(ctx, task, duty, report, lang, uuid), lang)
        await _deliver_private(ctx, event, uuid, form, lang)
        return
    items = [
        PickItem(
            task_id=t.id or 0,
            duty_name=found.duties[t.duty_key].name(lang),
            period=await _period(ctx, t),
            due_at=t.due_at.astimezone(ctx.tz),
            status=t.status,
        )
        for t in found.tasks
    ]
    uuid = ctx.next_uuid()
    picker = build_task_picker(
        items, ctx.local_now, lang, phrase=phrase if found.nomatch else None, card_uuid=uuid
    )
    await _deliver_private(ctx, event, uuid, picker, lang)


async def _deliver_private(ctx: Ctx, event: MessageEvent, uuid: str, card: dict, lang: str) -> None:
    """Forms go to the member's direct chat (in a group, others would see the report)."""
    if event.is_group:
        await ctx.answer(event, _t("form_in_group", lang), msg_type="text")
    await enqueue(
        ctx.session,
        uuid=uuid,
        now=ctx.now,
        kind="send",
        body=card,
        receive_id_type="open_id",
        receive_id=event.sender_open_id,
    )


def _text_help(template: ReportTemplate, duty: Duty, lang: str) -> str:
    lines = [_t("text_help", lang, duty=duty.name(lang))]
    for f in template.fields:
        kind = TYPE_NAMES.get(f.type, (f.type, f.type))[1 if lang == "en" else 0]
        if f.type == "choice":
            kind += ": " + " / ".join(c.label(lang) for c in f.choices)
        if f.required:
            kind = f"{_t('required', lang)}, {kind}" if lang == "en" else f"必填，{kind}"
        lines.append(f"{f.label(lang)}: …  ({kind})")
    return "\n".join(lines)


async def _submit_text(
    ctx: Ctx, event: MessageEvent, member: Member, phrase: str, lang: str
) -> None:
    """The power-user path: "提交周报" then one `field: value` per line."""
    found = await _candidates(ctx, member, phrase, earliest_only=True)
    tasks = found.tasks
    if not tasks:
        await ctx.answer(event, _t("no_tasks", lang), msg_type="text")
        return
    parsed = {
        t.id: parse_text_submission(event.text, found.duties[t.duty_key].report) for t in tasks
    }
    if len(tasks) > 1:  # the labels used tell which report this is
        best = max((p.matched, -len(p.errors)) for p in parsed.values())
        tasks = [t for t in tasks if (parsed[t.id].matched, -len(parsed[t.id].errors)) == best]
    if len(tasks) > 1 or (found.nomatch and not parsed[tasks[0].id].matched):
        names = "、" if lang != "en" else ", "
        listing = names.join(found.duties[t.duty_key].name(lang) for t in tasks)
        example = found.duties[tasks[0].duty_key].name(lang)
        await ctx.answer(
            event, _t("ambiguous", lang, example=example, names=listing), msg_type="text"
        )
        return
    task = tasks[0]
    duty = found.duties[task.duty_key]
    template = duty.report
    assert template is not None
    sub = parsed[task.id]
    previous = await store.report_for_task(ctx.session, task.id)
    keep = None
    if previous is not None and previous.status != ReportStatus.APPROVED:
        keep = store.loads(previous.values, {})  # an edit may give only what changed
    values, errors = validate_values(
        template,
        sub.raw,
        today=ctx.local_now.date(),
        people=await _people_resolver(ctx, event),
        keep=keep,
    )
    errors = [*sub.errors, *errors]
    if not sub.raw and not errors:
        errors = [FieldError("", "没有找到任何字段", "no field was found")]
    if errors:
        text = "\n".join(f"• {e.message(lang)}" for e in errors[:20])
        text += "\n\n" + _text_help(template, duty, lang)
        await ctx.answer(event, build_notice_card(_t("text_failed_title", lang), text, lang, "red"))
        return
    result = await _submit(
        ctx,
        task=task,
        duty=duty,
        author=member,
        values=values,
        via="text",
        lang=lang,
        card=event.message_id,
    )
    if isinstance(result, Refused):
        await ctx.answer(event, _t(result.key, lang, **_pick(result.kw, lang)), msg_type="text")
        return
    report = result.report
    uuid = ctx.next_uuid()
    await store.set_card_uuids(ctx.session, report, author_card=uuid)
    view = await _report_view(ctx, report, task, duty, lang)
    zh, en = _submitted_message(result, lang, ctx, duty)
    summary = build_report_card(view, lang, audience="author")
    summary["body"]["elements"].insert(
        0, text_div(en if lang == "en" else zh, text_size="notation")
    )
    await _answer(ctx, event, summary, uuid=uuid)


def _pick(kw: dict[str, Any], lang: str) -> dict[str, Any]:
    return {
        k: (v[1] if lang == "en" else v[0]) if isinstance(v, tuple) else v for k, v in kw.items()
    }
