"""Submitting reports: the form card (opened from a task button or by saying 提交周报 /
"submit weekly report"), or a `field: value` text message (the power-user path). Both end
in `submit`, which stores a new report, an edit (still pending) or a resubmission (after a
rejection), and puts the approver's card in front of the current approver."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from bot.dispatch.context import Ctx
from bot.dispatch.events import CardActionEvent, MessageEvent
from bot.dispatch.router import Intent, Router
from bot.domain.policy import Duty, ReportTemplate
from bot.domain.reports import (
    FieldError,
    clean_text,
    duty_match_score,
    evaluate_kpis,
    format_errors,
    kpi_misses,
    names_something,
    parse_text_submission,
    strip_command,
    validate_values,
)
from cards.actions import OpenReport, SubmitReport
from cards.answers import toast, with_card
from cards.elements import text_div
from cards.notice import build_notice_card
from cards.report_cards import PickItem, ReportView, build_report_card, build_task_picker
from cards.report_form import build_report_form
from handlers.reports.common import (
    CLOSED,
    closed_state,
    current_approver,
    is_clicked_card,
    load_duty,
    load_task,
    period_label,
)
from handlers.reports.texts import T, say, toast_of, type_name
from handlers.reports.views import build_view, form_view, report_view, view_data
from handlers.views import card_after, require_member
from storage import reports as store
from storage.audit import audit_soon
from storage.members import list_active
from storage.models import Member, Report, ReportStatus, Task, TaskStatus
from storage.tasks import list_open_tasks

router = Router(name="reports.submit")

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


# -- the service -------------------------------------------------------------------------


@dataclass
class Submitted:
    report: Report
    kind: str  # created | edited | resubmitted | unchanged
    approver: Member | None = None
    view: ReportView | None = None  # the report as the approver's card showed it just now


@dataclass
class Refused:
    key: str  # a T key
    kw: dict[str, Any] = field(default_factory=dict)


async def submit(
    ctx: Ctx,
    *,
    task: Task,
    duty: Duty,
    author: Member,
    values: dict[str, Any],
    via: str,
    card: str,
    form_version: int = 0,
    read: Report | None | bool = False,
) -> Submitted | Refused:
    """Store a validated submission and queue the approver's card (new or patched).
    `form_version` is the version a form card creates: a second click on the same form
    (a double click) finds it stored and changes nothing. `read`: the task's report (or
    None) if the caller has just read it (False: read it here)."""
    template = duty.report
    assert template is not None
    if task.status in CLOSED:
        return Refused("closed", {"state": closed_state(task)})
    kpis = evaluate_kpis(template, values)
    for attempt in range(3):
        if attempt or read is False:
            report = await store.report_for_task(ctx.session, task.id)
        else:
            report = read
        if report is None:
            created = await _create(ctx, task, duty, author, values, kpis, via, card)
            if created is None:
                continue  # a concurrent submit created it: this one is an edit (or a repeat)
            return created
        if report.status == ReportStatus.APPROVED:
            return Refused("closed", {"state": T["state_approved"]})
        if form_version and report.version >= form_version:
            return Submitted(report, "unchanged")  # this form was submitted already
        if report.status == ReportStatus.SUBMITTED and store.loads(report.values, {}) == values:
            return Submitted(report, "unchanged")
        was, was_author = report.status, report.author_open_id
        if not await store.new_version(
            ctx.session,
            report,
            values=values,
            kpis=kpis,
            now=ctx.now,
            via=via,
            author=author.open_id,
        ):
            await store.reload(ctx.session, report)
            continue
        await store.set_task_state(ctx.session, task.id, status=TaskStatus.SUBMITTED, now=ctx.now)
        kind = "resubmitted" if was == ReportStatus.REJECTED else "edited"
        await audit_soon(
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
            previous_author=was_author if was_author != author.open_id else None,
        )
        approver = await current_approver(ctx, author, duty)
        now_by = approver.open_id if approver is not None else None
        # The approver changed (a new card for the new one), or the report changed hands and
        # nobody in the department approves the new holder's (the director's own, say).
        if now_by != report.approver_open_id and (now_by or was_author != author.open_id):
            kind = "resubmitted"
            await store.set_approver(ctx.session, report, now_by)
        if approver is not None:
            view = await report_view(ctx, report, task, duty, ctx.lang)
            approval = build_report_card(view, ctx.lang)
            if kind == "edited" and report.approver_card_uuid:
                await ctx.patch(report.approver_card_uuid, approval)  # the same card, in place
            else:  # new work for the approver: a new card notifies them
                uuid = await ctx.send("open_id", approver.open_id, approval)
                await store.set_card_uuids(ctx.session, report, approver_card=uuid)
            return Submitted(report, kind, approver, view)
        return Submitted(report, kind, approver)
    return Refused("busy")


async def _create(
    ctx: Ctx,
    task: Task,
    duty: Duty,
    author: Member,
    values: dict[str, Any],
    kpis: list,
    via: str,
    card: str,
) -> Submitted | None:
    approver = await current_approver(ctx, author, duty)
    data = uuid = None
    if approver is not None:
        # What the approver's card shows is read before the first write (SQLite holds its
        # one write lock from the first write to COMMIT); the card's uuid goes in the INSERT.
        data = await view_data(
            ctx,
            Report(
                task_id=task.id,
                duty_key=task.duty_key,
                author_open_id=author.open_id,
                approver_open_id=approver.open_id,
                values=store.dumps(values),
            ),
            task,
            duty,
            submitted={1: ctx.now},
        )
        uuid = ctx.next_uuid()
    report = await store.create_report(
        ctx.session,
        task=task,
        author=author.open_id,
        approver=approver.open_id if approver else None,
        values=values,
        kpis=kpis,
        now=ctx.now,
        via=via,
        approver_card=uuid,
    )
    if report is None:
        return None
    await store.set_task_state(ctx.session, task.id, status=TaskStatus.SUBMITTED, now=ctx.now)
    await audit_soon(
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
    if approver is not None and data is not None and uuid is not None:
        view = build_view(ctx, report, task, duty, ctx.lang, data)
        await ctx.send("open_id", approver.open_id, build_report_card(view, ctx.lang), uuid=uuid)
        return Submitted(report, "created", approver, view)
    return Submitted(report, "created", approver)


def submitted_message(ctx: Ctx, result: Submitted, duty: Duty) -> tuple[str, str]:
    """(zh, en) of what happened."""
    who = result.approver.name if result.approver else None
    out = []
    for lg in ("zh", "en"):
        if result.kind == "unchanged":
            out.append(say("unchanged", lg))
        elif result.kind == "edited":
            out.append(say("updated", lg, n=result.report.version))
        elif who is None:
            out.append(say("submitted_outside", lg, who=ctx.policy.approver_label(duty, lg)))
        elif result.kind == "resubmitted":
            out.append(say("resubmitted", lg, n=result.report.version, who=who))
        else:
            out.append(say("submitted", lg, who=who))
    return out[0], out[1]


async def _people_resolver(ctx: Ctx, event: MessageEvent | None) -> Callable[[str], str | None]:
    by_name: dict[str, str] = {}
    for m in await list_active(ctx.session):
        by_name.setdefault(m.name, m.open_id)
    if event is not None:
        for mention in event.mentions:
            if mention.open_id and mention.name:
                by_name[mention.name] = mention.open_id
    return lambda name: by_name.get(name)


# -- card actions ------------------------------------------------------------------------


@router.action(OpenReport)
async def on_open(ctx: Ctx, click: CardActionEvent, action: OpenReport) -> dict:
    """The form for a task: in place on our own card (picker, summary), else a new message."""
    found = await load_task(ctx, action.task_id, action.name)
    if isinstance(found, dict):
        return found
    task, duty = found
    if task.status in CLOSED:
        return toast_of("info", "closed", state=closed_state(task))
    report = await store.report_for_task(ctx.session, task.id)
    if report is not None and report.status == ReportStatus.APPROVED:
        return toast_of("info", "closed", state=T["state_approved"])
    if await is_clicked_card(ctx, action.card, click.open_message_id):
        view = await form_view(ctx, task, duty, report, ctx.lang, action.card)
        return with_card({}, build_report_form(view, ctx.lang))
    uuid = ctx.next_uuid()
    view = await form_view(ctx, task, duty, report, ctx.lang, uuid, click.open_message_id)
    await ctx.send("open_id", ctx.asker, build_report_form(view, ctx.lang), uuid=uuid)
    return toast_of("success", "form_sent")


@router.action(SubmitReport)
async def on_submit_form(ctx: Ctx, click: CardActionEvent, action: SubmitReport) -> dict:
    """The form's submit button: validate, store, answer with the read-only summary."""
    found = await load_task(ctx, action.task_id, action.name)
    if isinstance(found, dict):
        return found
    task, duty = found
    author = ctx.member
    if author is None:
        return toast_of("error", "not_member")
    template = duty.report
    assert template is not None
    previous = await store.report_for_task(ctx.session, task.id)
    keep = None
    if previous is not None and action.kept:
        old = store.loads(previous.values, {})
        keep = {k: old.get(k) for k in action.kept}
    values, errors = validate_values(
        template,
        click.form_value,
        today=ctx.local_now.date(),
        people=await _people_resolver(ctx, None) if _has_person(template) else None,
        keep=keep,
    )
    if errors:  # no card in the answer: the form keeps what was typed
        return toast(
            "error",
            say("invalid", "zh", errors=format_errors(errors, "zh")),
            say("invalid", "en", errors=format_errors(errors, "en")),
        )
    # Read before the writes (the form's own card: nothing here writes it).
    clicked = await is_clicked_card(ctx, action.card, click.open_message_id)
    result = await submit(
        ctx,
        task=task,
        duty=duty,
        author=author,
        values=values,
        via="form",
        card=click.open_message_id,
        form_version=action.version,
        read=previous,
    )
    if isinstance(result, Refused):
        return toast_of("warning", result.key, **result.kw)
    report = result.report
    if clicked:
        await store.set_card_uuids(ctx.session, report, author_card=action.card)
    if action.source and action.source != click.open_message_id and result.kind != "unchanged":
        # The card the form was opened from (what's due, a reminder) shows it at once.
        note = ctx.t("✅ 已提交", "✅ Submitted")
        await ctx.session.refresh(task)  # its new state, for the list rebuilt below
        source = await card_after(ctx, action.source, task.id, note)
        if source is not None:
            await ctx.patch(None, source, message_id=action.source)
    if result.view is not None:  # built in this click; only the author's card may be new
        view = replace(result.view, author_card_uuid=report.author_card_uuid)
    else:
        view = await report_view(ctx, report, task, duty, ctx.lang)
    zh, en = submitted_message(ctx, result, duty)
    return with_card(toast("success", zh, en), build_report_card(view, ctx.lang, audience="author"))


def _has_person(template: ReportTemplate) -> bool:
    return any(f.type == "person" for f in template.fields)


# -- chat --------------------------------------------------------------------------------


@dataclass
class _Candidates:
    tasks: list[Task]
    duties: dict[str, Duty]
    nomatch: bool  # the phrase named nothing: these are all the open report tasks


async def _candidates(ctx: Ctx, member: Member, phrase: str, *, earliest_only: bool) -> _Candidates:
    """The open report tasks the phrase names: per duty the earliest still to submit (and
    any pending one due before it, which may still be edited)."""
    tasks = await list_open_tasks(ctx.session, member.open_id)
    duties: dict[str, Duty] = {}
    for key in {t.duty_key for t in tasks}:
        duty = await load_duty(ctx, key)
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
    member = await require_member(ctx)
    if member is None:
        return
    lang = ctx.lang
    lines = [line for line in clean_text(event.text).split("\n") if line.strip()]
    phrase = strip_command(lines[0] if lines else "")
    if len(lines) >= 2:
        await _submit_text(ctx, event, member, phrase)
        return
    found = await _candidates(ctx, member, phrase, earliest_only=False)
    if not found.tasks:
        await ctx.answer(say("no_tasks", lang), msg_type="text")
        return
    if len(found.tasks) == 1 and not found.nomatch:
        task = found.tasks[0]
        duty = found.duties[task.duty_key]
        report = await store.report_for_task(ctx.session, task.id)
        uuid = ctx.next_uuid()
        form = build_report_form(await form_view(ctx, task, duty, report, lang, uuid), lang)
        await _deliver_private(ctx, event, uuid, form)
        return
    items = [
        PickItem(
            task_id=t.id or 0,
            duty_name=found.duties[t.duty_key].name(lang),
            period=await period_label(ctx, t),
            due_at=t.due_at.astimezone(ctx.tz),
            status=t.status,
        )
        for t in found.tasks
    ]
    uuid = ctx.next_uuid()
    picker = build_task_picker(
        items, ctx.local_now, lang, phrase=phrase if found.nomatch else None, card_uuid=uuid
    )
    await _deliver_private(ctx, event, uuid, picker)


async def _deliver_private(ctx: Ctx, event: MessageEvent, uuid: str, card: dict) -> None:
    """Forms go to the member's direct chat (in a group, others would see the report)."""
    if event.is_group:
        await ctx.answer(say("form_in_group", ctx.lang), msg_type="text")
    await ctx.send("open_id", event.sender_open_id, card, uuid=uuid)


def _text_help(template: ReportTemplate, duty: Duty, lang: str) -> str:
    lines = [say("text_help", lang, duty=duty.name(lang))]
    for f in template.fields:
        kind = type_name(f.type, lang)
        if f.type == "choice":
            kind += ": " + " / ".join(c.label(lang) for c in f.choices)
        if f.required:
            kind = f"{say('required', lang)}, {kind}" if lang == "en" else f"必填，{kind}"
        lines.append(f"{f.label(lang)}: …  ({kind})")
    return "\n".join(lines)


async def _submit_text(ctx: Ctx, event: MessageEvent, member: Member, phrase: str) -> None:
    """The power-user path: "提交周报" then one `field: value` per line."""
    lang = ctx.lang
    found = await _candidates(ctx, member, phrase, earliest_only=True)
    tasks = found.tasks
    if not tasks:
        await ctx.answer(say("no_tasks", lang), msg_type="text")
        return
    parsed = {
        t.id: parse_text_submission(event.text, found.duties[t.duty_key].report) for t in tasks
    }
    if len(tasks) > 1:  # the labels used tell which report this is
        best = max((p.matched, -len(p.errors)) for p in parsed.values())
        tasks = [t for t in tasks if (parsed[t.id].matched, -len(parsed[t.id].errors)) == best]
    if len(tasks) > 1 or (found.nomatch and not parsed[tasks[0].id].matched):
        sep = "、" if lang != "en" else ", "
        listing = sep.join(found.duties[t.duty_key].name(lang) for t in tasks)
        example = found.duties[tasks[0].duty_key].name(lang)
        await ctx.answer(say("ambiguous", lang, example=example, names=listing), msg_type="text")
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
        await ctx.answer(build_notice_card(say("text_failed_title", lang), text, lang, "red"))
        return
    result = await submit(
        ctx, task=task, duty=duty, author=member, values=values, via="text", card=event.message_id
    )
    if isinstance(result, Refused):
        await ctx.answer(say(result.key, lang, **result.kw), msg_type="text")
        return
    report = result.report
    uuid = ctx.next_uuid()
    await store.set_card_uuids(ctx.session, report, author_card=uuid)
    view = await report_view(ctx, report, task, duty, lang)
    zh, en = submitted_message(ctx, result, duty)
    summary = build_report_card(view, lang, audience="author")
    summary["body"]["elements"].insert(0, text_div(ctx.t(zh, en), text_size="notation"))
    await ctx.answer(summary, uuid=uuid)


def is_submission(text: str) -> bool:
    """ "提交我的报告" names a submission, not the list of my reports."""
    return re.match(r"^(提交|填报|submit)", text) is not None
