"""The weekly / monthly digest card for the team chat.

Tasks due in the period are counted per person and per role as on time, late (done after
the due time), missing (past due, not done), excused (due while the assignee was on leave)
and not yet due; ``bot.domain.digests.Tally`` has the arithmetic and the completion rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.digests import Tally
from cards.elements import card, chart, fit_card, hr, markdown, md_text, plain_str, table
from cards.i18n import format_day_time, norm_lang

NAME_CHARS = 30
DUTY_CHARS = 50
TEXT_CHARS = 120
MAX_PEOPLE = 60  # table rows carry no tags: size, not the element count, is the limit
MAX_LINES = 5  # the overdue / KPI / upcoming / support lists stay short


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
class TrendPoint:
    label: str  # "W49" / "11月"
    rate: float | None  # None: nothing was due


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
    trend: tuple[TrendPoint, ...] = ()  # oldest first, this period last

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
        "overview": "本期到期 **{n}** 项 · 完成率 **{rate}** · 当前逾期 **{overdue}** 项",
        "tally": "按时 {on_time} · 逾期完成 {late} · 未完成 {missing} · 请假 {excused} · 未到期 {pending}",
        "trend_weekly": "近 {n} 周团队完成率（%）",
        "trend_monthly": "近 {n} 个月团队完成率（%）",
        "by_role": "本期各岗位完成率（%）",
        "people": "**按人**",
        "col_name": "成员",
        "col_role": "岗位",
        "col_on_time": "按时",
        "col_late": "逾期完成",
        "col_missing": "未完成",
        "col_excused": "请假",
        "col_pending": "未到期",
        "col_rate": "完成率",
        "overdue": "**逾期事项（{n}）**",
        "kpi": "**KPI 未达标（已审批报告）**",
        "upcoming": "**未来两周到期（{n}）**",
        "support": "**需支持事项（最新周报）**",
        "excused": "请假",
        "late": "逾期 {n} 个工作日",
        "more": "还有 {n} 项未显示。",
        "more_overdue": "还有 {n} 项；对我说「逾期」查看自己的。",
        "more_people": "还有 {n} 人未显示。",
        "summary": "完成率 {rate} · 逾期 {n} 项",
        "colon": "：",
    },
    "en": {
        "weekly": "Weekly digest · {label}",
        "monthly": "Monthly digest · {label}",
        "overview": "**{n}** due in the period · completion **{rate}** · **{overdue}** overdue now",
        "tally": "on time {on_time} · late {late} · missing {missing} · excused {excused} · not yet due {pending}",
        "trend_weekly": "Team completion over {n} weeks (%)",
        "trend_monthly": "Team completion over {n} months (%)",
        "by_role": "Completion by role this period (%)",
        "people": "**By person**",
        "col_name": "Member",
        "col_role": "Role",
        "col_on_time": "On time",
        "col_late": "Late",
        "col_missing": "Missing",
        "col_excused": "Excused",
        "col_pending": "Not yet due",
        "col_rate": "Completion",
        "overdue": "**Overdue ({n})**",
        "kpi": "**KPI misses (approved reports)**",
        "upcoming": "**Due in the next two weeks ({n})**",
        "support": "**Support needed (latest weekly reports)**",
        "excused": "on leave",
        "late": "{n} working day(s) late",
        "more": "{n} more not shown.",
        "more_overdue": '{n} more; say "overdue" to see yours.',
        "more_people": "{n} more people not shown.",
        "summary": "completion {rate} · {n} overdue",
        "colon": ": ",
    },
}


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{round(rate * 100)}%"


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


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


def _lines(items: list[str], total: int, more: str) -> str:
    if total > len(items):
        items = [*items, more.format(n=total - len(items))]
    return "\n".join(items)


def trend_chart(view: DigestView, lang: str) -> dict | None:
    """The team's completion rate over the last periods (a line), if two have data."""
    points = [p for p in view.trend if p.rate is not None]
    if len(points) < 2:
        return None
    title = LABELS[lang][f"trend_{view.kind}"].format(n=len(view.trend))
    values = [{"period": plain_str(p.label, 12), "rate": _pct(p.rate)} for p in view.trend]
    return chart(
        {
            "type": "line",
            "title": {"visible": True, "text": title},
            "data": [{"id": "trend", "values": values}],
            "xField": "period",
            "yField": "rate",
            "point": {"visible": True},
            "label": {"visible": True},
            "axes": [{"orient": "left", "min": 0, "max": 100}, {"orient": "bottom"}],
        },
        aspect_ratio="2:1",
    )


def roles_chart(view: DigestView, lang: str) -> dict | None:
    """This period's completion rate per role (horizontal bars), if any role has one."""
    rows = [r for r in view.roles if r.tally.rate is not None]
    if not rows:
        return None
    values = [{"role": plain_str(r.name, NAME_CHARS), "rate": _pct(r.tally.rate)} for r in rows]
    return chart(
        {
            "type": "bar",
            "direction": "horizontal",
            "title": {"visible": True, "text": LABELS[lang]["by_role"]},
            "data": [{"id": "roles", "values": values}],
            "xField": "rate",
            "yField": "role",
            "label": {"visible": True},
            "axes": [{"orient": "bottom", "min": 0, "max": 100}, {"orient": "left"}],
        },
        aspect_ratio="2:1" if len(values) <= 4 else "4:3",
    )


PEOPLE_COLUMNS = ("on_time", "late", "missing", "excused", "pending")


def people_table(view: DigestView, lang: str) -> dict:
    L = LABELS[lang]
    columns = [("name", L["col_name"], "text"), ("role", L["col_role"], "text")]
    columns += [(k, L[f"col_{k}"], "number") for k in PEOPLE_COLUMNS]
    columns.append(("rate", L["col_rate"], "text"))
    rows = []
    for row in view.people[:MAX_PEOPLE]:
        cells: dict = {
            "name": plain_str(row.name, NAME_CHARS) or "—",
            "role": plain_str(row.detail, NAME_CHARS) or "—",
            "rate": percent(row.tally.rate),
        }
        cells.update({k: getattr(row.tally, k) for k in PEOPLE_COLUMNS})
        rows.append(cells)
    return table(columns, rows, page_size=10)


def build_digest_card(view: DigestView, lang: str) -> dict:
    """Overview line, a trend chart, a per-role chart, a per-person table, then short
    lists (overdue, KPI misses, upcoming, support needed), each with "N more"."""
    lang = norm_lang(lang)
    L = LABELS[lang]
    now = view.now
    overview = L["overview"].format(
        n=view.total.total, rate=percent(view.total.rate), overdue=view.overdue_total
    )
    body: list[dict] = [
        markdown(overview),
        markdown(L["tally"].format(**view.total.__dict__), text_size="notation"),
    ]
    body += [c for c in (trend_chart(view, lang), roles_chart(view, lang)) if c is not None]
    if view.people:
        body += [markdown(L["people"]), people_table(view, lang)]
        if len(view.people) > MAX_PEOPLE:
            body.append(
                markdown(
                    L["more_people"].format(n=len(view.people) - MAX_PEOPLE), text_size="notation"
                )
            )
    if view.overdue_total:
        lines = [_item(x, lang, now) for x in view.overdue[:MAX_LINES]]
        body += [
            hr(),
            markdown(L["overdue"].format(n=view.overdue_total)),
            markdown(_lines(lines, view.overdue_total, L["more_overdue"])),
        ]
    if view.kpi_misses:
        lines = []
        for k in view.kpi_misses[:MAX_LINES]:
            op = {">=": "≥", "<=": "≤", ">": "&gt;", "<": "&lt;"}.get(k.op) or md_text(k.op, 8)
            lines.append(
                f"- {md_text(k.who, NAME_CHARS)}{L['colon']}{md_text(k.duty_name, DUTY_CHARS)} · "
                f"{md_text(k.label, DUTY_CHARS)} <font color='red'>{md_text(k.display, 20)}</font>"
                f"（{op} {md_text(k.threshold_display, 20)}）"
            )
        body += [hr(), markdown(L["kpi"]), markdown(_lines(lines, len(view.kpi_misses), L["more"]))]
    if view.upcoming_total:
        lines = [_item(x, lang, now) for x in view.upcoming[:MAX_LINES]]
        body += [
            hr(),
            markdown(L["upcoming"].format(n=view.upcoming_total)),
            markdown(_lines(lines, view.upcoming_total, L["more"])),
        ]
    if view.support:
        lines = [
            f"- **{md_text(item.who, NAME_CHARS)}**{L['colon']}{md_text(item.text, TEXT_CHARS)}"
            for item in view.support[:MAX_LINES]
        ]
        body += [
            hr(),
            markdown(L["support"]),
            markdown(_lines(lines, len(view.support), L["more"])),
        ]
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
    "TrendPoint",
    "build_digest_card",
    "percent",
]
