"""User text never becomes markup, in any card the bot can build or any text it can send.

Every `build_*` card builder in cards/ is found by name and fed views whose every text
field is hostile (an @all in both spellings, bold, a link, a closing font tag, a template
variable, and 40 KB of it): the card validates (no @all in markdown *or* plain_text, where
Feishu parses <at> too), holds no raw ``<at`` anywhere, no live bold or link made of user
text, and fits Feishu's 30 KB and element limits. Toasts and text messages go through the
same one escaping function (cards.elements.escape); the end-to-end half, through the
webhook with a hostile team, is tests/test_hostile_team.py."""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import inspect
import itertools
import json
import pkgutil
import re
import types
import typing
from datetime import date, datetime, timedelta, timezone

import pytest

import cards
from cards.answers import toast
from cards.elements import escape, escape_md, plain_str, plain_text
from cards.schema import CARD_MAX_BYTES, MAX_ELEMENTS, count_elements, validate_card

HOSTILE = (
    '<at id=all></at> <at user_id="all"></at> < AT id = all > **x** [x](http://e) </font> {{var}}'
)
HUGE = (HOSTILE + " 名") * 600  # ~40 KB of UTF-8
assert len(HUGE.encode()) > 40_000
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=timezone(timedelta(hours=8)))

# Text fields that are a vocabulary, not text: a valid word keeps the builder on its path.
WORDS = {
    ("DigestView", "kind"): "weekly",
    ("ReminderLine", "stage"): "overdue",
    ("build_task_card", "kind"): "moved",
    ("build_plan_summary_card", "kind"): "moved",
    ("HandoffView", "reason"): "left",
    ("HandoffView", "who"): "ou_left",
}


IDS = itertools.count(1)


def is_id(name: str) -> bool:
    """Ids (open_id, chat_id, keys, nonces) come from Feishu or from us, never from a person."""
    return name in (
        "nonce",
        "default_owner",
        "key",
        "card_uuid",
        "source_message",
    ) or name.endswith(("_id", "_key", "_ids"))


def keyed(text: str) -> tuple[tuple[str, str], ...]:
    """(key, label) pairs: keys are ids, labels text."""
    return tuple((f"k{next(IDS)}", text) for _ in range(3))


# Fields that hold ids inside a structure (is_id sees only the field's name).
STRUCTURED = {
    ("ImportView", "roles"): keyed,
    ("FormField", "choices"): keyed,
    ("FormField", "people"): lambda text: ("ou_a", "ou_b"),
}


def hostile(tp, owner: str, name: str, text: str):
    """A value of type `tp` whose every string is `text` (unless it is a vocabulary word
    or an id)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if (owner, name) in WORDS:
        return WORDS[(owner, name)]
    if (owner, name) in STRUCTURED:
        return STRUCTURED[(owner, name)](text)
    if is_id(name) and tp in (str, str | None):
        return f"ou_{next(IDS):016x}"  # distinct: form field keys must be unique
    if tp is str or tp is typing.Any or tp is object:
        return text
    simple = {bool: True, int: 3, float: 0.5, datetime: NOW, date: NOW.date()}
    if tp in simple:
        return simple[tp]
    if tp is timedelta:
        return timedelta(hours=50)
    if origin in (typing.Union, types.UnionType):
        return hostile(next(a for a in args if a is not type(None)), owner, name, text)
    if origin is typing.Literal:
        return args[0]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(hostile(args[0], owner, name, text) for _ in range(3))
        return tuple(hostile(a, owner, name, text) for a in args)
    if origin in (list, collections.abc.Sequence, collections.abc.Iterable):
        return [hostile(args[0], owner, name, text) for _ in range(3)]
    if origin in (dict, collections.abc.Mapping):
        return {hostile(args[0], owner, name, text): hostile(args[1], owner, name, text)}
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = [f for f in dataclasses.fields(tp) if f.init]
        return tp(**{f.name: hostile(hints[f.name], tp.__name__, f.name, text) for f in fields})
    raise TypeError(f"no hostile value for {tp!r} ({owner}.{name})")


def card_builders() -> dict[str, typing.Callable]:
    found = {}
    for info in pkgutil.iter_modules(cards.__path__):
        module = importlib.import_module(f"cards.{info.name}")
        for fname, fn in vars(module).items():
            if fname.startswith("build_") and getattr(fn, "__module__", "") == module.__name__:
                found[f"{info.name}.{fname}"] = fn
    return found


def build(fn, lang: str, text: str) -> dict:
    hints = typing.get_type_hints(fn)
    kwargs = {}
    for pname in inspect.signature(fn).parameters:
        if pname == "lang":
            kwargs[pname] = lang
        else:
            kwargs[pname] = hostile(hints.get(pname, str), fn.__name__, pname, text)
    return fn(**kwargs)


# What Feishu never renders: callback values, component names, option values, and the
# default value of an input (the person's own text, to edit: it must stay as typed).
NOT_RENDERED = {"behaviors", "value", "name", "element_id", "default_value", "initial_option"}


def rendered_only(node):
    if isinstance(node, dict):
        return {k: rendered_only(v) for k, v in node.items() if k not in NOT_RENDERED}
    if isinstance(node, list):
        return [rendered_only(v) for v in node]
    return node


def texts(node, tags: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if node.get("tag") in tags and isinstance(node.get("content"), str):
            out.append(node["content"])
        for value in node.values():
            out += texts(value, tags)
    elif isinstance(node, list):
        for value in node:
            out += texts(value, tags)
    return out


def test_every_card_builder_is_found():
    """The list grows by itself when a builder is added; this guards the finder."""
    assert len(card_builders()) >= 20
    assert "digest.build_digest_card" in card_builders()
    assert "report_form.build_report_form" in card_builders()


@pytest.mark.parametrize("size", ["short", "40kb"])
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("key", sorted(card_builders()))
def test_hostile_text_in_every_field_of_every_card(key, lang, size):
    text = HOSTILE if size == "short" else HUGE
    fn = card_builders()[key]
    card = build(fn, lang, text)
    benign = build(fn, lang, "plain words")

    assert validate_card(card) == []  # no @all in markdown or plain_text, valid 2.0
    raw = json.dumps(card, ensure_ascii=False)
    assert len(raw.encode()) <= CARD_MAX_BYTES
    assert count_elements(card.get("body", card)) <= MAX_ELEMENTS
    shown = json.dumps(rendered_only(card), ensure_ascii=False)
    assert not re.search(r"<\s*/?\s*at\b", shown, re.IGNORECASE), "a live <at> tag"
    markdown = "\n".join(texts(card, ("markdown", "lark_md")))
    ours = "\n".join(texts(benign, ("markdown", "lark_md")))
    assert "**x**" not in markdown  # bold made of user text
    assert "[x](http://e)" not in markdown  # a live link
    assert markdown.count("</font>") == ours.count("</font>")  # no tag closed early
    if size == "short" and key not in {
        "activity_form.build_activity_form",  # people are offered by open_id
        "admin.build_intro_card",
        "admin.build_team_chat_card",
        "help.build_help_card",
    }:  # cards that show no user text
        assert "{{var}}" in shown or "＜at id=all>" in shown or "&lt;at id=all&gt;" in shown


def test_one_escaping_function_for_every_slot():
    """escape is the one function; the others are it with a context."""
    assert escape_md(HOSTILE) == escape(HOSTILE, markup=True)
    assert plain_text(HOSTILE) == escape(HOSTILE, markup=False)
    assert plain_str(HOSTILE, 500) == escape(HOSTILE, markup=False)
    plain = escape(HOSTILE, markup=False)
    assert "<at" not in plain and "< AT" not in plain and "＜at id=all>" in plain
    assert escape("76% < 80%, a<b, 3 <= 4", markup=False) == "76% < 80%, a＜b, 3 <= 4"
    md = escape(HOSTILE, markup=True)
    assert "<" not in md and "&lt;at id=all&gt;" in md and "\\*\\*x\\*\\*" in md


def test_toasts_are_plain_text_and_escaped():
    answer = toast("error", f"不能审批：{HOSTILE}", f"Cannot approve: {HOSTILE}")
    shown = json.dumps(answer, ensure_ascii=False)
    assert "<at" not in shown and "< AT" not in shown
    assert "＜at id=all>" in answer["toast"]["i18n"]["en_us"]
