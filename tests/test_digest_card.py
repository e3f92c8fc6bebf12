"""The digest card at its largest, and the validator's table / chart rules (Card JSON 2.0:
a table only at the body root, at most 5 tables, typed cells; a chart needs a VChart spec)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cards.digest import (
    DigestView,
    ItemLine,
    KpiMiss,
    Row,
    SupportItem,
    Tally,
    TrendPoint,
    build_digest_card,
)
from cards.elements import CARD_BUDGET_BYTES, card, card_size, chart, markdown, table
from cards.schema import MAX_ELEMENTS, count_elements, validate_card

NOW = datetime(2026, 12, 4, 17, tzinfo=ZoneInfo("Asia/Shanghai"))
EVIL = "<at id=all></at>**[x](http://e.vil)**" + "长" * 80


def largest_view() -> DigestView:
    tally = Tally(on_time=30, late=20, missing=10, excused=5, pending=5)
    people = tuple(Row(f"{EVIL}{i}", tally, EVIL) for i in range(300))
    line = ItemLine(EVIL, EVIL, NOW - timedelta(days=3), late_workdays=3)
    miss = KpiMiss(EVIL, EVIL, EVIL, EVIL, ">=", EVIL)
    return DigestView(
        kind="weekly",
        label=EVIL,
        now=NOW,
        total=tally,
        people=people,
        roles=tuple(Row(f"{EVIL}{i}", tally, "3") for i in range(7)),
        overdue=(line,) * 15,
        overdue_total=5000,
        kpi_misses=(miss,) * 40,
        upcoming=(line,) * 15,
        upcoming_total=800,
        support=(SupportItem(EVIL, EVIL * 10),) * 40,
        trend=tuple(TrendPoint(f"11-{i:02d}", 0.5) for i in range(8)),
    )


def test_largest_digest_fits_feishu_limits():
    for lang in ("zh", "en"):
        c = build_digest_card(largest_view(), lang)
        assert validate_card(c) == []
        assert count_elements(c["body"]) <= MAX_ELEMENTS
        assert card_size(c) <= CARD_BUDGET_BYTES
        tags = [e["tag"] for e in c["body"]["elements"]]
        assert tags.count("table") == 1 and tags.count("chart") == 2
        (people,) = [e for e in c["body"]["elements"] if e["tag"] == "table"]
        assert 0 < len(people["rows"]) < 300
        text = str(c)
        for el in c["body"]["elements"]:  # names in markdown are escaped; table text is plain
            assert "<at" not in el.get("content", "")
        assert ("还有 4995 项" in text) or ("4995 more" in text)


def test_digest_without_history_has_no_trend_chart():
    view = DigestView(
        kind="monthly",
        label="2026年11月",
        now=NOW,
        total=Tally(on_time=1),
        people=(Row("王策划", Tally(on_time=1), "市场策划专员"),),
        trend=(TrendPoint("2026-10", None), TrendPoint("2026-11", 1.0)),
    )
    c = build_digest_card(view, "en")
    assert validate_card(c) == []
    assert [e["tag"] for e in c["body"]["elements"]].count("chart") == 0  # no roles, one point


def _errors(*elements: dict) -> list[str]:
    return validate_card(card(title="t", summary="s", elements=list(elements)))


def test_validator_knows_table_and_chart():
    ok_table = table([("name", "名字", "text"), ("n", "数", "number")], [{"name": "a", "n": 1}])
    ok_chart = chart({"type": "line", "data": {"values": []}, "xField": "x", "yField": "y"})
    assert _errors(ok_table, ok_chart) == []
    # a table only at the body root
    nested = {
        "tag": "column_set",
        "columns": [{"tag": "column", "elements": [ok_table]}],
    }
    assert any("body root" in e for e in _errors(nested))
    # at most five tables
    assert any("at most 5 tables" in e for e in _errors(*[ok_table] * 6))
    # typed cells, known columns, supported properties
    bad_cell = table([("n", "数", "number")], [{"n": "many"}])
    assert any("rows[0].n" in e for e in _errors(bad_cell))
    assert any("no column" in e for e in _errors(table([("n", "数", "number")], [{"x": 1}])))
    assert any("unsupported property" in e for e in _errors({**ok_table, "stripes": True}))
    assert any("data_type" in e for e in _errors(table([("n", "数", "money")], [])))
    assert any("page_size" in e for e in _errors({**ok_table, "page_size": 11}))
    # a chart needs a VChart spec with a type, and known display options
    assert any("chart_spec" in e for e in _errors({"tag": "chart"}))
    assert any("chart_spec.type" in e for e in _errors({"tag": "chart", "chart_spec": {}}))
    assert any("aspect_ratio" in e for e in _errors({**ok_chart, "aspect_ratio": "3:1"}))
    # markdown cells are checked for @all
    md = table([("m", "m", "markdown")], [{"m": "<at id=all></at>"}])
    assert any("@all" in e for e in _errors(md))
    # a table still counts as one element (its rows carry no tags)
    assert count_elements(markdown("x")) == 1 and count_elements(ok_table) == 1
