"""The weekly / monthly digest card for the team chat.

Tasks due in the period are counted per person and per role as on time, late (done after
the due time), missing (past due, not done), excused (due while the assignee was on leave)
and not yet due; ``bot.domain.digests.Tally`` has the arithmetic and the completion rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.digests import Tally
from cards.elements import card, fit_card, hr, markdown, md_text, plain_str
from cards.i18n import format_day_time, norm_lang

NAME_CHARS = 30
DUTY_CHARS = 50
TEXT_CHARS = 300
MAX_PEOPLE = 40
MAX_LINES = 15


@dataclass(frozen=True)
class Row:
    name: str  # a person's name or a role's name
    tally: Tally
    detail: str = ""  # a person's role, or a role's head count


@dataclass(frozen=True)
class ItemLine:
    who: str
    duty_name: str
    due_at: datetime  # aware, team time zone
    excused: bool = False
    late_workdays: int = 0


@dataclass(frozen=True)
class KpiMiss:
    who: str
    duty_name: str
    label: str
    display: str
    op: str
    threshold_display: str


@dataclass(frozen=True)
class SupportItem:
    who: str
    text: str


@dataclass(frozen=True)
class DigestView:
    kind: str  # "weekly" | "monthly"
    label: str  # e.g. "2026年第49周（12-07 – 12-13）"
    now: datetime  # aware, team time zone
    total: Tally = field(default_factory=Tally)
    people: tuple[Row, ...] = ()
    roles: tuple[Row, ...] = ()
    overdue: tuple[ItemLine, ...] = ()
    overdue_total: int = 0
    kpi_misses: tuple[KpiMiss, ...] = ()
    upcoming: tuple[ItemLine, ...] = ()
    upcoming_total: int = 0
    support: tuple[SupportItem, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.total.total
            or self.overdue_total
            or self.kpi_misses
            or self.upcoming_total
            or self.support
        )


LABELS = {
    "zh": {
        "weekly": "每周汇总 · {label}",
        "monthly": "月度汇总 · {label}",
        "overview": "**总览**",
        "tally": "按时 {on_time} · 逾期完成 {late} · 未完成 {missing} · 请假 {excused} · 未到期 {pending}",
        "rate": "完成率 {rate}",
        "no_rate": "完成率 —",
        "due_in": "本期到期 {n} 项",
        "people": "**按人**",
        "roles": "**按岗位**",
        "overdue": "**全部逾期事项（{n}）**",
        "kpi": "**KPI 未达标（已审批报告）**",
        "upcoming": "**未来两周到期（{n}）**",
        "support": "**需支持事项（最新周报）**",
        "excused": "请假",
        "late": "逾期 {n} 个工作日",
        "more": "还有 {n} 项未显示。",
        "summary": "完成率 {rate} · 逾期 {n} 项",
        "colon": "：",
        "people_n": "{n} 人",
    },
    "en": {
        "weekly": "Weekly digest · {label}",
        "monthly": "Monthly digest · {label}",
        "overview": "**Overview**",
        "tally": "on time {on_time} · late {late} · missing {missing} · excused {excused} · not yet due {pending}",
        "rate": "completion {rate}",
        "no_rate": "completion —",
        "due_in": "{n} due in the period",
        "people": "**By person**",
        "roles": "**By role**",
        "overdue": "**Everything overdue ({n})**",
        "kpi": "**KPI misses (approved reports)**",
        "upcoming": "**Due in the next two weeks ({n})**",
        "support": "**Support needed (latest weekly reports)**",
        "excused": "on leave",
        "late": "{n} working day(s) late",
        "more": "{n} more not shown.",
        "summary": "completion {rate} · {n} overdue",
        "colon": ": ",
        "people_n": "{n} people",
    },
}


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{round(rate * 100)}%"


def _tally(t: Tally, lang: str) -> str:
    L = LABELS[lang]
    rate = L["rate"].format(rate=percent(t.rate)) if t.rate is not None else L["no_rate"]
    return f"{L['tally'].format(**t.__dict__)} · **{rate}**"


def _rows(rows: tuple[Row, ...], lang: str) -> str:
    L = LABELS[lang]
    out = []
    for row in rows[:MAX_PEOPLE]:
        name = md_text(row.name, NAME_CHARS) or "—"
        detail = f"（{md_text(row.detail, NAME_CHARS)}）" if lang == "zh" and row.detail else ""
        if lang == "en" and row.detail:
            detail = f" ({md_text(row.detail, NAME_CHARS)})"
        out.append(f"- {name}{detail}{L['colon']}{_tally(row.tally, lang)}")
    if len(rows) > MAX_PEOPLE:
        out.append(L["more"].format(n=len(rows) - MAX_PEOPLE))
    return "\n".join(out)


def _item(line: ItemLine, lang: str, now: datetime) -> str:
    L = LABELS[lang]
    text = (
        f"- {md_text(line.who, NAME_CHARS) or '—'}{L['colon']}{md_text(line.duty_name, DUTY_CHARS)}"
        f" · {format_day_time(line.due_at, lang, ref=now)}"
    )
    if line.excused:
        text += f" · <font color='grey'>{L['excused']}</font>"
    elif line.late_workdays:
        text += f" · <font color='red'>{L['late'].format(n=line.late_workdays)}</font>"
    return text


def build_digest_card(view: DigestView, lang: str) -> dict:
    lang = norm_lang(lang)
    L = LABELS[lang]
    now = view.now
    overview = f"{L['due_in'].format(n=view.total.total)}{L['colon']}{_tally(view.total, lang)}"
    body: list[dict] = [markdown(f"{L['overview']}\n{overview}")]
    if view.people:
        body += [hr(), markdown(L["people"]), markdown(_rows(view.people, lang))]
    if view.roles:
        body += [markdown(L["roles"]), markdown(_rows(view.roles, lang))]
    if view.overdue_total:
        lines = [_item(x, lang, now) for x in view.overdue[:MAX_LINES]]
        if view.overdue_total > len(lines):
            lines.append(L["more"].format(n=view.overdue_total - len(lines)))
        body += [
            hr(),
            markdown(L["overdue"].format(n=view.overdue_total)),
            markdown("\n".join(lines)),
        ]
    if view.kpi_misses:
        lines = []
        for k in view.kpi_misses[:MAX_LINES]:
            op = {">=": "≥", "<=": "≤", ">": ">", "<": "<"}.get(k.op, k.op)
            lines.append(
                f"- {md_text(k.who, NAME_CHARS)}{L['colon']}{md_text(k.duty_name, DUTY_CHARS)} · "
                f"{md_text(k.label, DUTY_CHARS)} <font color='red'>{md_text(k.display, 20)}</font>"
                f"（{op} {md_text(k.threshold_display, 20)}）"
            )
        if len(view.kpi_misses) > MAX_LINES:
            lines.append(L["more"].format(n=len(view.kpi_misses) - MAX_LINES))
        body += [hr(), markdown(L["kpi"]), markdown("\n".join(lines))]
    if view.upcoming_total:
        lines = [_item(x, lang, now) for x in view.upcoming[:MAX_LINES]]
        if view.upcoming_total > len(lines):
            lines.append(L["more"].format(n=view.upcoming_total - len(lines)))
        body += [
            hr(),
            markdown(L["upcoming"].format(n=view.upcoming_total)),
            markdown("\n".join(lines)),
        ]
    if view.support:
        body += [hr(), markdown(L["support"])]
        for item in view.support[:MAX_LINES]:
            text = md_text(item.text, TEXT_CHARS, inline=False)
            body.append(markdown(f"**{md_text(item.who, NAME_CHARS)}**{L['colon']}\n{text}"))
    title = L[view.kind].format(label=plain_str(view.label, 60))
    summary = L["summary"].format(rate=percent(view.total.rate), n=view.overdue_total)
    template = "red" if view.overdue_total else "green" if view.total.total else "blue"
    return fit_card(card(title=title, template=template, summary=summary, elements=body))


__all__ = [
    "DigestView",
    "ItemLine",
    "KpiMiss",
    "Row",
    "SupportItem",
    "Tally",
    "build_digest_card",
    "percent",
]
