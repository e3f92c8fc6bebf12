"""The cards of clocks that start in chat, at their largest and with hostile text: valid
Card JSON 2.0 within Feishu's limits, the logged text shown literally."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cards.elements import card_size
from cards.schema import CARD_MAX_BYTES, MAX_ELEMENTS, count_elements, validate_card
from cards.sla import LoggedView, SlaLine, build_choose_card, build_logged_card, build_owner_card

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)
HOSTILE = "<at id=all></at> **bold** [link](http://x) <font color='red'>x</font>\n# head\n1. list "


def line(i: int, *, mine: bool = False) -> SlaLine:
    return SlaLine(
        task_id=i,
        duty_name=HOSTILE * 3,
        owner_name=HOSTILE,
        due_at=NOW + timedelta(hours=24),
        sla="24小时内",
        mine=mine,
    )


def markdown_of(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["content"]] if node.get("tag") == "markdown" else []
        return own + [m for v in node.values() for m in markdown_of(v)]
    if isinstance(node, list):
        return [m for v in node for m in markdown_of(v)]
    return []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_largest_cards_fit_feishus_limits(lang):
    view = LoggedView(
        trigger_name=HOSTILE,
        text=HOSTILE * 200,  # far past what a card shows
        logger_name=HOSTILE,
        lines=tuple(line(i, mine=i % 2 == 0) for i in range(1, 40)),
        now=NOW,
        unowned=(HOSTILE,) * 10,
    )
    built = {
        "logged": build_logged_card(view, lang),
        "owner": build_owner_card(view, list(view.lines), lang),
        "choose": build_choose_card(
            "om_" + "x" * 60, [(f"k{i}", HOSTILE) for i in range(20)], lang, readable=False,
            logger=HOSTILE,
        ),
        "unknown": build_choose_card(
            "om_1", [("question", "用户咨询")], lang, readable=True, logger="陈", unknown=True
        ),
    }  # fmt: skip
    for name, c in built.items():
        assert validate_card(c) == [], name
        assert card_size(c) <= CARD_MAX_BYTES, name
        assert count_elements(c["body"]) <= MAX_ELEMENTS, name
        shown = "\n".join(markdown_of(c))  # plain_text (titles, buttons) is never markup
        assert "<at id=all>" not in shown and "<font color='red'>" not in shown, name
        assert "&lt;at id=all&gt;" in shown or name == "unknown", name
