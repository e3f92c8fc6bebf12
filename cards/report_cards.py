"""Report cards: the approval card, the author's summary, the decision notice, the pending
approvals list, "my reports" and the "which task?" picker.

Everything in a report is untrusted text: values go into plain_text elements, and into
markdown only through `md_text` (escaped). Cards are budgeted to stay well under 30 KB:
long values are cut and get a "full text" button (`report.full`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cards.actions import Approve, FullText, OpenReport, Reject, ViewReport
from cards.elements import (
    CARD_BUDGET_BYTES,
    action_row,
    button,
    card,
    card_size,
    fit_card,
    hr,
    json_size,
    markdown,
    md_text,
    plain,
    plain_str,
    text_div,
    text_tag,
    truncate,
)
from cards.i18n import format_day_time, norm_lang

APPROVE_NAME = "report_approve"
REJECT_NAME = "report_reject"
COMMENT_NAME = "comment"
DECISION_FORM = "decision_form"

FIELD_CHARS = 1500  # a value longer than this is cut (with a "full text" button)
MIN_FIELD_CHARS = 60
NAME_CHARS = 40
DUTY_CHARS = 60
PERIOD_CHARS = 40
COMMENT_CHARS = 1000
LIST_MAX = 20
COMMENT_LINE_CHARS = 80

LABELS = {
    "zh": {
        "status": {"submitted": "待审批", "approved": "已通过", "rejected": "已退回"},
        "author": "提交人",
        "task": "任务",
        "due": "截止",
        "late": "逾期提交",
        "on_time": "按时提交",
        "first_late": "首版逾期提交",
        "first_on_time": "首版按时提交",
        "submitted": "提交于",
        "version": "第 {n} 版",
        "approver": "审批人",
        "kpis": "**KPI 检查**",
        "kpi_missing": "数据不全，无法计算",
        "kpi_tag": "KPI 未达标 {n}",
        "late_tag": "逾期",
        "full": "查看全文 · {label}（{n} 字）",
        "cut": "（内容较长，已截断）",
        "previous": "**上次退回意见**",
        "comment_ph": "审批意见（退回时必填）",
        "approve": "通过",
        "reject": "退回",
        "approved_by": "✅ **已通过** · {who} · {when}",
        "rejected_by": "❌ **已退回** · {who} · {when}",
        "comment": "**意见**",
        "waiting_for": "⏳ 等待 {who} 审批",
        "outside": "部门外（{label}）",
        "nobody": "未找到审批人，请联系管理员",
        "redo_by": "请在 {when} 前修改后重新提交。",
        "edit": "修改",
        "resubmit": "重新提交",
        "title": "{duty} · {author}",
        "summary_approver": "{author} 提交了{duty}，待你审批",
        "summary_author": "{duty}：{status}",
        "colon": "：",
        "sep": " · ",
    },
    "en": {
        "status": {"submitted": "Pending", "approved": "Approved", "rejected": "Rejected"},
        "author": "From",
        "task": "Task",
        "due": "Due",
        "late": "submitted late",
        "on_time": "on time",
        "first_late": "first version late",
        "first_on_time": "first version on time",
        "submitted": "Submitted",
        "version": "version {n}",
        "approver": "Approver",
        "kpis": "**KPI checks**",
        "kpi_missing": "not enough data",
        "kpi_tag": "{n} KPI missed",
        "late_tag": "Late",
        "full": "Full text · {label} ({n} chars)",
        "cut": "(long text, cut)",
        "previous": "**Previous rejection comment**",
        "comment_ph": "Comment (required to reject)",
        "approve": "Approve",
        "reject": "Reject",
        "approved_by": "✅ **Approved** · {who} · {when}",
        "rejected_by": "❌ **Rejected** · {who} · {when}",
        "comment": "**Comment**",
        "waiting_for": "⏳ Waiting for {who} to approve",
        "outside": "outside the department ({label})",
        "nobody": "no approver found; ask an admin",
        "redo_by": "Please fix and resubmit by {when}.",
        "edit": "Edit",
        "resubmit": "Resubmit",
        "title": "{duty} · {author}",
        "summary_approver": "{author} submitted {duty} for your approval",
        "summary_author": "{duty}: {status}",
        "colon": ": ",
        "sep": " · ",
    },
}

STATUS_TEMPLATE = {"submitted": "orange", "approved": "green", "rejected": "red"}
STATUS_COLOR = {"submitted": "orange", "approved": "green", "rejected": "red"}
OPS = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}
NEGATED = {">=": "<", "<=": ">", ">": "≤", "<": "≥"}


@dataclass(frozen=True)
class FieldRow:
    key: str
    label: str  # in the card's language
    text: str  # the value as display text ("" = not given)


@dataclass(frozen=True)
class KpiRow:
    label: str
    display: str  # "76%", or "—" when not computable
    op: str  # ">=", ...
    threshold_display: str  # "80%"
    ok: bool | None


@dataclass(frozen=True)
class ReportView:
    report_id: int
    task_id: int
    version: int
    status: str  # submitted | approved | rejected
    duty_name: str
    period: str  # "2026-W48", an activity title, ...
    author_name: str
    author_role: str
    approver_name: str | None  # None: nobody in the bot (see approver_label)
    approver_label: str  # e.g. "管理层 / Company management" when outside
    due_at: datetime  # team time zone (the task's current due date)
    submitted_at: datetime  # this version, team time zone
    late: bool
    now: datetime  # team time zone
    fields: tuple[FieldRow, ...] = ()
    kpis: tuple[KpiRow, ...] = ()
    decided_by_name: str | None = None
    decided_at: datetime | None = None
    comment: str | None = None  # the decision comment (or the last rejection's)
    author_card_uuid: str | None = None


def kpi_line(k: KpiRow, lang: str) -> str:
    """ "✅ 到场率 85% ≥ 80%" / "❌ 到场率 76% < 80%" / "⚪ 到场率：数据不全" (plain text)."""
    L = LABELS[lang]
    label = plain_str(k.label, 60)
    if k.ok is None:
        return f"⚪ {label}{L['colon']}{L['kpi_missing']}"
    value, threshold = plain_str(k.display, 20), plain_str(k.threshold_display, 20)
    if k.ok:
        return f"✅ {label} {value} {OPS.get(k.op, k.op)} {threshold}"
    return f"❌ {label} {value} {NEGATED.get(k.op, '≠')} {threshold}"


def _when(dt: datetime, view: ReportView, lang: str) -> str:
    return format_day_time(dt, lang, ref=view.now)


def _approver(view: ReportView, lang: str) -> str:
    L = LABELS[lang]
    if view.approver_name:
        return md_text(view.approver_name, NAME_CHARS)
    if view.approver_label:
        return md_text(L["outside"].format(label=view.approver_label), 80)
    return L["nobody"]


def _meta(view: ReportView, lang: str, *, audience: str) -> dict:
    L = LABELS[lang]
    c = L["colon"]
    lines = []
    if audience == "approver":
        who = md_text(view.author_name, NAME_CHARS) or "—"
        role = md_text(view.author_role, NAME_CHARS)
        lines.append(f"**{L['author']}**{c}{who}{L['sep'] + role if role else ''}")
    task = md_text(view.duty_name, DUTY_CHARS) or "—"
    if view.period:
        task += L["sep"] + md_text(view.period, PERIOD_CHARS)
    lines.append(f"**{L['task']}**{c}{task}")
    due = f"**{L['due']}**{c}{_when(view.due_at, view, lang)}{L['sep']}"
    # The deadline shown is the one in force (a rejection may have moved it later); "late"
    # is about the first version against the original deadline.
    first = "first_" if view.version > 1 else ""
    due += f"<font color='red'>{L[first + 'late']}</font>" if view.late else L[first + "on_time"]
    lines.append(due)
    version = L["version"].format(n=view.version)
    lines.append(
        f"**{L['submitted']}**{c}{_when(view.submitted_at, view, lang)}{L['sep']}{version}"
    )
    lines.append(f"**{L['approver']}**{c}{_approver(view, lang)}")
    return markdown("\n".join(lines))


def _field_elements(
    view: ReportView, caps: list[int], lang: str, *, full_buttons: bool
) -> list[dict]:
    L = LABELS[lang]
    out: list[dict] = []
    for row, cap in zip(view.fields, caps, strict=True):
        out.append(markdown(f"**{md_text(row.label, 120) or md_text(row.key, 40)}**"))
        text = row.text.strip() or "—"
        if len(text) > cap:
            out.append(text_div(truncate(text, cap)))
            if full_buttons:
                value = FullText(view.report_id, row.key, lang).pack()
                label = plain_str(row.label, 20) or row.key
                out.append(
                    button(L["full"].format(label=label, n=f"{len(text):,}"), value, style="text")
                )
            else:
                out.append(markdown(L["cut"], text_size="notation"))
        else:
            out.append(text_div(text))
    return out


def _outcome(view: ReportView, lang: str, *, audience: str) -> list[dict]:
    L = LABELS[lang]
    out: list[dict] = []
    if view.status in ("approved", "rejected") and view.decided_at is not None:
        key = "approved_by" if view.status == "approved" else "rejected_by"
        who = md_text(view.decided_by_name, NAME_CHARS) or "—"
        out.append(markdown(L[key].format(who=who, when=_when(view.decided_at, view, lang))))
        if view.comment:
            out.append(markdown(L["comment"]))
            out.append(text_div(truncate(view.comment.strip(), COMMENT_CHARS)))
        if view.status == "rejected" and audience == "author":
            out.append(markdown(L["redo_by"].format(when=_when(view.due_at, view, lang))))
    elif view.status == "submitted":
        if view.comment and view.version > 1:
            out.append(markdown(L["previous"]))
            out.append(text_div(truncate(view.comment.strip(), COMMENT_CHARS)))
        if audience == "author":
            out.append(markdown(L["waiting_for"].format(who=_approver(view, lang))))
    return out


def _decision_form(view: ReportView, lang: str) -> dict:
    L = LABELS[lang]
    approve = button(
        L["approve"],
        Approve(view.report_id, view.version, lang).pack(),
        style="primary_filled",
        name=APPROVE_NAME,
    )
    approve["form_action_type"] = "submit"
    reject = button(
        L["reject"],
        Reject(view.report_id, view.version, lang).pack(),
        style="danger",
        name=REJECT_NAME,
    )
    reject["form_action_type"] = "submit"
    comment = {
        "tag": "input",
        "name": COMMENT_NAME,
        "placeholder": plain(L["comment_ph"]),
        "max_length": COMMENT_CHARS,
        "input_type": "multiline_text",
        "rows": 2,
    }
    return {
        "tag": "form",
        "name": DECISION_FORM,
        "elements": [comment, action_row(approve, reject)],
    }


def _author_buttons(view: ReportView, lang: str) -> list[dict]:
    L = LABELS[lang]
    if view.status not in ("submitted", "rejected"):
        return []
    value = OpenReport(view.task_id, lang, view.author_card_uuid or "").pack()
    text = L["edit"] if view.status == "submitted" else L["resubmit"]
    style = "default" if view.status == "submitted" else "primary_filled"
    return [button(text, value, style=style)]


def _build(view: ReportView, lang: str, audience: str, caps: list[int]) -> tuple[dict, int]:
    L = LABELS[lang]
    status = view.status if view.status in STATUS_TEMPLATE else "submitted"
    misses = sum(1 for k in view.kpis if k.ok is False)
    tags = [text_tag(L["status"][status], STATUS_COLOR[status])]
    if misses:
        tags.append(text_tag(L["kpi_tag"].format(n=misses), "red"))
    if view.late:
        tags.append(text_tag(L["late_tag"], "orange"))
    duty = plain_str(view.duty_name, DUTY_CHARS) or "—"
    author = plain_str(view.author_name, NAME_CHARS) or "—"
    if audience == "approver":
        summary = L["summary_approver"].format(author=author, duty=duty)
    else:
        summary = L["summary_author"].format(duty=duty, status=L["status"][status])
    elements: list[dict] = [_meta(view, lang, audience=audience)]
    if view.kpis:  # plain text: "<" and ">" are shown, never parsed
        elements.append(markdown(L["kpis"]))
        elements.append(text_div("\n".join(kpi_line(k, lang) for k in view.kpis)))
    elements.append(hr())
    elements.extend(_field_elements(view, caps, lang, full_buttons=True))
    elements.append(hr())
    elements.extend(_outcome(view, lang, audience=audience))
    tail: list[dict] = []
    if audience == "approver" and status == "submitted":
        tail.append(_decision_form(view, lang))
    elif audience == "author":
        tail.extend(_author_buttons(view, lang))
    elements.extend(tail)
    result = card(
        title=L["title"].format(duty=duty, author=author),
        subtitle=plain_str(f"{view.period}{L['sep']}{L['version'].format(n=view.version)}", 100),
        template=STATUS_TEMPLATE[status],
        tags=tags,
        summary=summary,
        elements=elements,
    )
    return result, len(tail)


def build_report_card(view: ReportView, lang: str, *, audience: str = "approver") -> dict:
    """The report as a card: `audience` "approver" (with approve / reject while pending)
    or "author" (the read-only summary, with edit / resubmit while not approved)."""
    lang = norm_lang(lang)
    caps = [min(FIELD_CHARS, max(len(r.text), 1)) for r in view.fields]
    result, tail = _build(view, lang, audience, caps)
    # Shrink the longest values until the card fits the budget.
    while card_size(result) > CARD_BUDGET_BYTES:
        longest = max(range(len(caps)), key=lambda i: caps[i], default=None)
        if longest is None or caps[longest] <= MIN_FIELD_CHARS:
            break
        caps[longest] = max(MIN_FIELD_CHARS, caps[longest] * 2 // 3)
        result, tail = _build(view, lang, audience, caps)
    return fit_card(result, keep_tail=tail)


# -- the decision notice ---------------------------------------------------------------

NOTICE = {
    "zh": {
        "approved_title": "报告已通过",
        "rejected_title": "报告被退回",
        "approved": "你的「{duty}」（{period}）已由 {who} 于 {when} 通过。",
        "rejected": "你的「{duty}」（{period}）被 {who} 于 {when} 退回。",
        "comment": "意见：{comment}",
        "redo": "请在 {due} 前修改后重新提交。",
        "resubmit": "重新提交",
    },
    "en": {
        "approved_title": "Report approved",
        "rejected_title": "Report rejected",
        "approved": 'Your "{duty}" ({period}) was approved by {who} at {when}.',
        "rejected": 'Your "{duty}" ({period}) was rejected by {who} at {when}.',
        "comment": "Comment: {comment}",
        "redo": "Please fix it and resubmit by {due}.",
        "resubmit": "Resubmit",
    },
}


def build_decision_notice(view: ReportView, lang: str) -> dict:
    """The short message the author gets after a decision (plain text only)."""
    lang = norm_lang(lang)
    N = NOTICE[lang]
    rejected = view.status == "rejected"
    when = _when(view.decided_at or view.now, view, lang)
    text = N["rejected" if rejected else "approved"].format(
        duty=plain_str(view.duty_name, DUTY_CHARS),
        period=plain_str(view.period, PERIOD_CHARS) or "—",
        who=plain_str(view.decided_by_name, NAME_CHARS) or "—",
        when=when,
    )
    lines = [text]
    if view.comment:
        lines.append(N["comment"].format(comment=truncate(view.comment.strip(), 300)))
    if rejected:
        lines.append(N["redo"].format(due=_when(view.due_at, view, lang)))
    elements = [text_div("\n".join(lines))]
    if rejected:
        value = OpenReport(view.task_id, lang).pack()
        elements.append(button(N["resubmit"], value, style="primary_filled"))
    title = N["rejected_title" if rejected else "approved_title"]
    return card(
        title=title,
        template="red" if rejected else "green",
        summary=f"{title}: {plain_str(view.duty_name, DUTY_CHARS)}",
        elements=elements,
    )


# -- lists -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportItem:
    report_id: int
    duty_name: str
    period: str
    author_name: str
    status: str
    version: int
    submitted_at: datetime  # team time zone: when the wait started
    kpi_misses: int = 0
    late: bool = False
    approver_name: str | None = None
    decided_at: datetime | None = None
    comment: str | None = None
    note: str | None = None  # e.g. "no approver in the department"


LIST_LABELS = {
    "zh": {
        "pending_title": "待我审批（{n}）",
        "pending_empty": "没有等待你审批的报告。👍",
        "mine_title": "我的报告",
        "mine_empty": "你还没有提交过报告。说「提交周报」等即可提交。",
        "waited": "已等待 {d}",
        "kpi": "{n} 项 KPI 未达标",
        "late": "逾期提交",
        "view": "查看",
        "more": "还有 {n} 项未显示。",
        "approver": "审批人 {who}",
        "decided": "{when}",
        "oldest": "按提交时间排列，最早的在前。",
        "version": "第 {n} 版",
    },
    "en": {
        "pending_title": "Waiting for my approval ({n})",
        "pending_empty": "Nothing is waiting for your approval. 👍",
        "mine_title": "My reports",
        "mine_empty": 'You have not submitted any report yet. Say e.g. "submit weekly report".',
        "waited": "waiting {d}",
        "kpi": "{n} KPI missed",
        "late": "late",
        "view": "Open",
        "more": "{n} more not shown.",
        "approver": "approver {who}",
        "decided": "{when}",
        "oldest": "Oldest first.",
        "version": "version {n}",
    },
}


def format_duration(delta: timedelta, lang: str) -> str:
    """ "2 天 3 小时" / "2 d 3 h" (minutes under an hour)."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    zh = lang != "en"
    if days:
        return f"{days} 天 {hours} 小时" if zh else f"{days} d {hours} h"
    if hours:
        return f"{hours} 小时 {mins} 分钟" if zh else f"{hours} h {mins} min"
    return f"{mins} 分钟" if zh else f"{mins} min"


def _list_card(
    title: str, template: str, intro: dict | None, items: list[tuple[dict, dict]], more: str
) -> dict:
    """A card listing (line, button) rows, as many as fit the size budget, then "n more"."""
    result = card(title=title, template=template, summary=title, elements=[])
    body: list[dict] = [intro] if intro else []
    budget = CARD_BUDGET_BYTES - card_size(result) - 400
    shown = 0
    for text, btn in items[:LIST_MAX]:
        cost = json_size(text) + json_size(btn) + 4
        if cost > budget:
            break
        budget -= cost
        body.extend([text, btn])
        shown += 1
    if shown < len(items):
        body.append(markdown(more.format(n=len(items) - shown), text_size="notation"))
    result["body"]["elements"] = body
    return fit_card(result)


def build_pending_card(items: list[ReportItem], now: datetime, lang: str) -> dict:
    """What waits for the asker's decision, oldest first, with how long each has waited."""
    lang = norm_lang(lang)
    L = LIST_LABELS[lang]
    S = LABELS[lang]["sep"]
    if not items:
        return card(
            title=L["pending_title"].format(n=0),
            template="green",
            summary=L["pending_empty"],
            elements=[markdown(L["pending_empty"])],
        )
    rows = []
    for it in items:
        first = f"**{md_text(it.duty_name, DUTY_CHARS)}**{S}{md_text(it.author_name, NAME_CHARS)}"
        if it.period:
            first += S + md_text(it.period, PERIOD_CHARS)
        second = [L["waited"].format(d=format_duration(now - it.submitted_at, lang))]
        second.append(L["version"].format(n=it.version))
        if it.kpi_misses:
            second.append(f"<font color='red'>{L['kpi'].format(n=it.kpi_misses)}</font>")
        if it.late:
            second.append(f"<font color='orange'>{L['late']}</font>")
        if it.note:
            second.append(md_text(it.note, 60))
        text = markdown(f"{first}\n{S.join(second)}")
        btn = button(L["view"], ViewReport(it.report_id, lang).pack())
        rows.append((text, btn))
    title = L["pending_title"].format(n=len(items))
    return _list_card(title, "orange", markdown(L["oldest"], text_size="notation"), rows, L["more"])


def build_my_reports_card(items: list[ReportItem], now: datetime, lang: str) -> dict:
    """The asker's own reports, newest first, with their status."""
    lang = norm_lang(lang)
    L = LIST_LABELS[lang]
    R = LABELS[lang]
    S = R["sep"]
    if not items:
        return card(
            title=L["mine_title"],
            template="blue",
            summary=L["mine_empty"],
            elements=[markdown(L["mine_empty"])],
        )
    rows = []
    for it in items:
        status = it.status if it.status in STATUS_COLOR else "submitted"
        first = f"**{md_text(it.duty_name, DUTY_CHARS)}**"
        if it.period:
            first += S + md_text(it.period, PERIOD_CHARS)
        tag = f"<font color='{STATUS_COLOR[status]}'>{R['status'][status]}</font>"
        second = [tag, L["version"].format(n=it.version)]
        if it.approver_name:
            second.append(L["approver"].format(who=md_text(it.approver_name, NAME_CHARS)))
        if it.decided_at is not None:
            second.append(format_day_time(it.decided_at, lang, ref=now))
        lines = [first, S.join(second)]
        if it.comment and status != "approved":
            lines.append(f"<font color='grey'>{md_text(it.comment, COMMENT_LINE_CHARS)}</font>")
        text = markdown("\n".join(lines))
        btn = button(L["view"], ViewReport(it.report_id, lang).pack())
        rows.append((text, btn))
    return _list_card(L["mine_title"], "blue", None, rows, L["more"])


# -- "which one?" ------------------------------------------------------------------------


@dataclass(frozen=True)
class PickItem:
    task_id: int
    duty_name: str
    period: str
    due_at: datetime  # team time zone
    status: str  # task status


PICK_LABELS = {
    "zh": {
        "title": "要提交哪一项？",
        "intro": "有几项报告都符合，请选择：",
        "nomatch": "没有找到与「{phrase}」对应的报告。你现在可以提交：",
        "due": "截止 {when}",
        "open": "填写",
        "edit": "修改",
        "redo": "重新提交",
        "submitted": "已提交，待审批",
        "rejected": "被退回",
        "more": "还有 {n} 项未显示。",
    },
    "en": {
        "title": "Which report?",
        "intro": "Several reports match; pick one:",
        "nomatch": 'No report matches "{phrase}". You can submit:',
        "due": "due {when}",
        "open": "Fill in",
        "edit": "Edit",
        "redo": "Resubmit",
        "submitted": "submitted, pending approval",
        "rejected": "rejected",
        "more": "{n} more not shown.",
    },
}


def build_task_picker(
    items: list[PickItem],
    now: datetime,
    lang: str,
    *,
    phrase: str | None = None,
    card_uuid: str | None = None,
) -> dict:
    """Buttons that open the form for one task each (`report.open`)."""
    lang = norm_lang(lang)
    P = PICK_LABELS[lang]
    S = LABELS[lang]["sep"]
    intro = P["nomatch"].format(phrase=plain_str(phrase, 30)) if phrase else P["intro"]
    rows = []
    for it in items:
        line = f"**{md_text(it.duty_name, DUTY_CHARS)}**"
        if it.period:
            line += S + md_text(it.period, PERIOD_CHARS)
        line += S + P["due"].format(when=format_day_time(it.due_at, lang, ref=now))
        if it.status in ("submitted", "rejected"):
            line += f"{S}<font color='grey'>{P[it.status]}</font>"
        value = OpenReport(it.task_id, lang, card_uuid or "").pack()
        text = {"submitted": P["edit"], "rejected": P["redo"]}.get(it.status, P["open"])
        rows.append((markdown(line), button(text, value, style="primary")))
    return _list_card(P["title"], "blue", text_div(intro), rows, P["more"])


__all__ = [
    "APPROVE_NAME",
    "COMMENT_NAME",
    "REJECT_NAME",
    "FieldRow",
    "KpiRow",
    "PickItem",
    "ReportItem",
    "ReportView",
    "build_decision_notice",
    "build_my_reports_card",
    "build_pending_card",
    "build_report_card",
    "build_task_picker",
    "format_duration",
    "kpi_line",
]
