"""Report and form views: database rows -> the view objects the card builders take."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dispatch.context import Ctx
from bot.domain.policy import Duty
from bot.domain.reports import display_value, form_default
from cards.report_cards import FieldRow, KpiRow, ReportView
from cards.report_form import FormField, FormView
from handlers.reports.common import local, period_label
from storage import reports as store
from storage.members import list_active
from storage.models import Member, Report, ReportStatus, Task
from storage.people import people, shown_names_of

log = logging.getLogger("dutybot.reports")

Prefill = Callable[[Ctx, Task], Awaitable[dict[str, Any]]]
PREFILL: dict[str, Prefill] = {}
"""duty_key -> async (ctx, task) -> default field values (stored units: percent as a
fraction). Used for a new report's form; an edit shows the current version instead."""


@dataclass(frozen=True)
class ViewData:
    """What a report's view reads besides the report and its task: the members it names
    (past and present, by open_id), when its versions were submitted, its period."""

    found: dict[str, Member]
    submitted: dict[int, datetime]
    period: str
    asked: frozenset[str] = frozenset()  # the open_ids looked up (found or not)


async def view_data(
    ctx: Ctx,
    report: Report,
    task: Task,
    duty: Duty | None,
    also: set[str] = frozenset(),
    submitted: dict[int, datetime] | None = None,
) -> ViewData:
    """Two queries (three for an activity's task): every member named (and `also`, e.g.
    whoever is deciding it now), and the submission times of this version and the first
    (unless given: a report being created has only its first, now)."""
    values = store.loads(report.values, {})
    template = duty.report if duty else None
    person_ids = set()
    if template:
        person_ids = {
            str(values.get(f.key))
            for f in template.fields
            if f.type == "person" and values.get(f.key)
        }
    who = {report.author_open_id, report.approver_open_id or "", report.decided_by or ""}
    asked = frozenset(who | person_ids | set(also))
    found = await people(ctx.session, set(asked))
    at = submitted
    if at is None:
        at = await store.versions_submitted_at(ctx.session, report.id or 0, {report.version, 1})
    return ViewData(found, at, await period_label(ctx, task), asked)


def names_in(data: ViewData, report: Report) -> bool:
    """True if `data` was read for every member the report names now (its approver may
    have changed since)."""
    return all(
        not i or i in data.asked
        for i in (report.author_open_id, report.approver_open_id, report.decided_by)
    )


async def report_view(
    ctx: Ctx, report: Report, task: Task, duty: Duty | None, lang: str
) -> ReportView:
    return build_view(ctx, report, task, duty, lang, await view_data(ctx, report, task, duty))


def build_view(
    ctx: Ctx, report: Report, task: Task, duty: Duty | None, lang: str, data: ViewData
) -> ReportView:
    """The view of a report from rows already read (no query)."""
    values = store.loads(report.values, {})
    kpis = store.loads(report.kpis, [])
    template = duty.report if duty else None
    who = {report.author_open_id, report.approver_open_id or "", report.decided_by or ""}
    found = data.found
    names = {open_id: m.name for open_id, m in found.items()}
    # Authors and approvers who left are named, marked, with the role they had.
    shown = shown_names_of(found, who, lang)
    author = found.get(report.author_open_id)
    role = ctx.policy_of(author.department).roles.get(author.role_key) if author else None
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
        outside = ctx.policy_of(task.department).approver_label(duty, lang)
    submitted = report.submitted_at
    at = data.submitted
    latest = at.get(report.version)
    first = at.get(1) or submitted
    return ReportView(
        report_id=report.id or 0,
        task_id=task.id or 0,
        version=report.version,
        status=report.status,
        duty_name=duty.name(lang) if duty else task.duty_key,
        period=data.period,
        author_name=shown[report.author_open_id],
        author_role=role.name(lang) if role else "",
        approver_name=shown.get(report.approver_open_id or "") if report.approver_open_id else None,
        approver_label=outside,
        due_at=task.due_at.astimezone(ctx.tz),
        submitted_at=(latest or submitted).astimezone(ctx.tz),
        late=first > (task.original_due_at or task.due_at),  # the first version, on time?
        now=ctx.local_now,
        fields=tuple(rows),
        kpis=kpi_rows,
        decided_by_name=shown.get(report.decided_by or "") if report.decided_by else None,
        decided_at=local(ctx, report.decided_at),
        comment=report.comment,
        author_card_uuid=report.author_card_uuid,
    )


async def form_view(
    ctx: Ctx,
    task: Task,
    duty: Duty,
    report: Report | None,
    lang: str,
    card_uuid: str | None,
    source: str = "",
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
        people = tuple(m.open_id for m in await list_active(ctx.session))
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
        period=await period_label(ctx, task),
        due_at=task.due_at.astimezone(ctx.tz),
        now=ctx.local_now,
        fields=fields,
        version=(report.version + 1) if report else 1,
        comment=(report.comment or task.note) if rejected else None,
        card_uuid=card_uuid,
        source_message=source,
    )
