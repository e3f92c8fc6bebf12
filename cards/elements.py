"""Escaping and element helpers shared by the card builders.

Rule: text we did not write ourselves (names, chat names, task titles, policy clauses,
anything from chat or a report) never becomes markup. `escape` is the one escaping function;
everything else calls it:

- markup contexts (``markdown`` / ``lark_md`` content): `escape(text, markup=True)`, alias
  `escape_md`, or `md_text` (cleaned, cut, escaped);
- plain contexts (``plain_text`` objects, table text cells, the card summary, toasts, text
  messages): `escape(text, markup=False)`, or `plain_str`. Feishu parses ``<at …>`` in plain
  text too, so this is not a no-op.

The element helpers apply it themselves where they can: `plain` (every plain_text object:
headers, buttons, confirms, tags, `text_div`), `table` (text cells), `card` (summary),
`cards.answers.toast`, and `bot.dispatch` for text messages. `markdown` expects content
that is already safe, and as a last guard breaks any ``<at`` tag left in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cards.schema import CARD_MAX_BYTES, MAX_ELEMENTS, count_elements

CARD_BUDGET_BYTES = 24 * 1024
"""What builders aim for: well under Feishu's 30 KB, leaving room for the styling
overhead Feishu adds and for the JSON-in-JSON escaping of the message ``content``."""

ELLIPSIS = "…"

# C0/C1 controls (except tab and newline) and bidi overrides/isolates: they can hide or
# reorder text ("✅ Approved" spoofing) and have no business in a card.
_UNSAFE_CHARS_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_WHITESPACE_RE = re.compile(r"\s+")
# Markdown metacharacters escaped wherever they appear.
_MD_ALWAYS = frozenset("\\`*_~[]|$")  # ( ) ! { } are inert once [ and ] are escaped
# Characters that only start markup at the beginning of a line (heading, list, setext).
_MD_LINE_START = frozenset("#+-=")
_ORDERED_LIST_RE = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)
# Any character `escape(markup=True)` may change (most names and values have none).
_MD_SPECIAL_RE = re.compile("[&<>" + re.escape("".join(sorted(_MD_ALWAYS | _MD_LINE_START))) + "]")


def clean(text: str) -> str:
    """Drop control and bidi-override characters; normalise line endings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE_CHARS_RE.sub("", text)


def one_line(text: str) -> str:
    """Collapse all whitespace (newlines included) to single spaces."""
    return _WHITESPACE_RE.sub(" ", clean(text)).strip()


def truncate(text: str, max_chars: int) -> str:
    """Cut `text` to at most `max_chars` characters, ending with "…" when cut."""
    if max_chars <= 0:
        return ""
    if len(text) <= max_chars:
        return text
    if max_chars == 1:
        return ELLIPSIS
    return text[: max_chars - 1].rstrip() + ELLIPSIS


# Plain text has no documented escaping (the platform docs describe HTML entities for
# markdown only, and a text message shows "&lt;" as it is), so a tag is broken by swapping
# the "<" that could open one (before a letter, "/", "!" or "?", spaces allowed) for its
# full-width look-alike: "<at id=all>" shows as "＜at id=all>", "76% < 80%" stays as it is.
_PLAIN_TAG_OPEN_RE = re.compile(r"<(?=\s*[A-Za-z/!?])")
PLAIN_LT = "\uff1c"
# Any <at …> or </at> tag, however spaced or cased: what `markdown` breaks as a last guard.
_AT_TAG_RE = re.compile(r"<(?=\s*/?\s*at\b)", re.IGNORECASE)


def escape(text: str, *, markup: bool) -> str:
    """The one escaping function: untrusted `text` shown literally, never as markup.

    ``markup=False`` (plain_text, text messages, toasts, table text cells): control and
    bidi characters dropped, and a ``<`` that could open a tag replaced by its look-alike
    ``＜``, so no ``<at …>``, ``<font>`` or ``<link>`` tag survives (``a < b`` is left
    alone); markdown syntax is inert there.

    ``markup=True`` (markdown / lark_md): ``<``, ``>``, ``&`` become HTML entities (the
    escaping the platform documents, so tags are shown, not interpreted); markdown
    metacharacters get a backslash (``**bold**``, ``[x](url)``, ``~~x~~``, `` `code` ``),
    and so do ``# + - =`` and ``1.`` at the start of a line (headings, lists, rules).
    Newlines are kept; use `one_line` first for inline fields.
    """
    text = clean(text)
    if not markup:
        return _PLAIN_TAG_OPEN_RE.sub(PLAIN_LT, text)
    if not _MD_SPECIAL_RE.search(text):  # nothing below would change a character
        return _ORDERED_LIST_RE.sub(r"\1\\\2", text)
    out: list[str] = []
    at_line_start = True
    for ch in text:
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch in _MD_ALWAYS or (at_line_start and ch in _MD_LINE_START):
            out.append("\\" + ch)
        else:
            out.append(ch)
        if ch == "\n":
            at_line_start = True
        elif not ch.isspace():
            at_line_start = False
    return _ORDERED_LIST_RE.sub(r"\1\\\2", "".join(out))


def escape_md(text: str) -> str:
    """`escape(text, markup=True)`: untrusted text for markdown / lark_md content."""
    return escape(text, markup=True)


def md_text(text: str | None, max_chars: int, *, inline: bool = True) -> str:
    """Untrusted text ready for markdown: cleaned, (one line,) truncated, escaped."""
    if not text:
        return ""
    text = one_line(text) if inline else clean(text).strip()
    return escape_md(truncate(text, max_chars))


def plain_str(text: str | None, max_chars: int) -> str:
    """Untrusted text for a plain_text slot: cleaned, one line, truncated, escaped."""
    return escape(truncate(one_line(text or ""), max_chars), markup=False)


def plain_text(text: str | None) -> str:
    """Untrusted multi-line text for a plain slot (a text message, a toast): escaped."""
    return escape(text or "", markup=False)


# -- elements ------------------------------------------------------------------------


def plain(content: str) -> dict:
    """A ``plain_text`` text object; its content is escaped here (no tag survives)."""
    return {"tag": "plain_text", "content": escape(content, markup=False)}


def markdown(content: str, *, text_size: str | None = None, text_align: str | None = None) -> dict:
    """A markdown element. `content` must already be safe (escape untrusted parts); as a
    last guard, any ``<at …>`` tag left in it is broken (the bot never @-mentions in cards)."""
    el: dict[str, Any] = {"tag": "markdown", "content": _AT_TAG_RE.sub("&lt;", content)}
    if text_size:
        el["text_size"] = text_size
    if text_align:
        el["text_align"] = text_align
    return el


def text_div(content: str, *, text_size: str | None = None) -> dict:
    """A div holding plain text: the safest way to show untrusted multi-line text."""
    text: dict[str, Any] = plain(content)
    if text_size:
        text["text_size"] = text_size
    return {"tag": "div", "text": text}


def hr() -> dict:
    return {"tag": "hr"}


def button(
    text: str,
    value: Mapping[str, Any],
    *,
    style: str = "default",
    name: str | None = None,
    confirm: tuple[str, str] | None = None,
) -> dict:
    """A callback button; `style` is Feishu's button ``type``.

    `value` must be a mapping: the SDK cannot parse a string callback value.
    """
    if not isinstance(value, Mapping):
        raise TypeError(f"button value must be a mapping, got {type(value).__name__}")
    el: dict[str, Any] = {
        "tag": "button",
        "text": plain(text),
        "type": style,
        "behaviors": [{"type": "callback", "value": dict(value)}],
    }
    if name:
        el["name"] = name
    if confirm:
        el["confirm"] = {"title": plain(confirm[0]), "text": plain(confirm[1])}
    return el


def action_row(*buttons: dict) -> dict:
    """Buttons side by side: a column_set with one auto-width column per button."""
    return {
        "tag": "column_set",
        "flex_mode": "flow",
        "horizontal_spacing": "8px",
        "columns": [{"tag": "column", "width": "auto", "elements": [b]} for b in buttons],
    }


def table(
    columns: Sequence[tuple[str, str, str]],
    rows: Sequence[Mapping[str, Any]],
    *,
    page_size: int = 10,
    freeze_first_column: bool = True,
) -> dict:
    """A Card 2.0 table; `columns` are (name, display name, data_type). Cells of type
    ``text`` are plain text: they are escaped here."""
    text_columns = {name for name, _, data_type in columns if data_type == "text"}
    return {
        "tag": "table",
        "page_size": max(1, min(page_size, 10)),
        "row_height": "low",
        "freeze_first_column": freeze_first_column,
        "header_style": {"background_style": "grey", "bold": True, "text_size": "normal"},
        "columns": [
            {"name": name, "display_name": label, "data_type": data_type, "width": "auto"}
            for name, label, data_type in columns
        ],
        "rows": [
            {
                k: escape(v, markup=False) if isinstance(v, str) and k in text_columns else v
                for k, v in row.items()
            }
            for row in rows
        ],
    }


def chart(spec: Mapping[str, Any], *, aspect_ratio: str = "16:9") -> dict:
    """A Card 2.0 chart from a VChart spec (data only: Feishu runs no JavaScript)."""
    return {"tag": "chart", "aspect_ratio": aspect_ratio, "chart_spec": dict(spec)}


def text_tag(text: str, color: str) -> dict:
    return {"tag": "text_tag", "text": plain(text), "color": color}


def header(
    title: str,
    *,
    subtitle: str | None = None,
    template: str = "blue",
    tags: Sequence[dict] = (),
) -> dict:
    h: dict[str, Any] = {"title": plain(title), "template": template}
    if subtitle:
        h["subtitle"] = plain(subtitle)
    if tags:
        h["text_tag_list"] = list(tags)[:3]
    return h


def card(
    *,
    title: str,
    elements: Iterable[dict],
    summary: str,
    template: str = "blue",
    subtitle: str | None = None,
    tags: Sequence[dict] = (),
) -> dict:
    """Assemble a Card JSON 2.0 dict. `title`, `subtitle`, `summary` are plain text."""
    return {
        "schema": "2.0",
        "config": {
            "update_multi": True,
            "width_mode": "fill",
            "summary": {"content": plain_str(summary, 100)},
        },
        "header": header(
            plain_str(title, 100) or "—",
            subtitle=plain_str(subtitle, 100) if subtitle else None,
            template=template,
            tags=tags,
        ),
        "body": {"elements": list(elements)},
    }


# -- size budget -----------------------------------------------------------------------


def json_size(obj: Any) -> int:
    """UTF-8 bytes of ``json.dumps(obj, ensure_ascii=False)`` (how we measure cards)."""
    return len(json.dumps(obj, ensure_ascii=False).encode("utf-8"))


def card_size(card: dict) -> int:
    return json_size(card)


def fit_card(
    card: dict,
    *,
    max_bytes: int = CARD_BUDGET_BYTES,
    keep_tail: int = 0,
    overflow_text: str = ELLIPSIS,
) -> dict:
    """Return `card` (mutated) shrunk to at most `max_bytes` and Feishu's element limit.

    A last-resort guard for builders that already budget their content: drops body
    elements from the end (keeping the last `keep_tail`, e.g. a button row) and marks
    the cut with `overflow_text` (plain text); if the header alone is too big, shortens
    it; finally replaces the body with the overflow note.
    """

    def fits() -> bool:
        text = json.dumps(card, ensure_ascii=False)
        if len(text.encode("utf-8")) > max_bytes:
            return False
        # Every tagged node shows `"tag":` in the JSON (a string's quotes are escaped), so
        # the count of those bounds count_elements from above: most cards need no walk.
        return text.count('"tag":') <= MAX_ELEMENTS or count_elements(card["body"]) <= MAX_ELEMENTS

    if fits():
        return card
    elements: list[dict] = card["body"]["elements"]
    tail = elements[len(elements) - keep_tail :] if keep_tail else []
    head = elements[: len(elements) - keep_tail] if keep_tail else list(elements)
    note = text_div(truncate(overflow_text, 200), text_size="notation")
    while head:
        head.pop()
        card["body"]["elements"] = [*head, note, *tail]
        if fits():
            return card
    card["body"]["elements"] = [note, *tail]
    if card_size(card) > max_bytes:
        hdr = card.get("header", {})
        for key in ("title", "subtitle"):
            if key in hdr:
                hdr[key]["content"] = truncate(hdr[key]["content"], 40) or "—"
        hdr.pop("text_tag_list", None)
        summary = card.get("config", {}).get("summary")
        if summary:
            summary["content"] = truncate(summary["content"], 40)
    if card_size(card) > max_bytes:
        card["body"]["elements"] = [note]
    return card


def take_fitting(elements: Sequence[dict], budget: int) -> int:
    """How many leading `elements` fit in `budget` bytes once added to a card body."""
    used = 0
    for i, el in enumerate(elements):
        used += json_size(el) + 2  # ", " separator in json.dumps
        if used > budget:
            return i
    return len(elements)


__all__ = [
    "CARD_BUDGET_BYTES",
    "CARD_MAX_BYTES",
    "ELLIPSIS",
    "action_row",
    "button",
    "card",
    "card_size",
    "chart",
    "clean",
    "escape",
    "escape_md",
    "fit_card",
    "header",
    "hr",
    "json_size",
    "markdown",
    "md_text",
    "one_line",
    "plain",
    "plain_str",
    "plain_text",
    "table",
    "take_fitting",
    "text_div",
    "text_tag",
    "truncate",
]


def md_id(value: str | None) -> str:
    """An identifier (open_id, chat_id) as inline code, so it can be copied exactly; anything
    that is not a plain identifier is shown as escaped text instead."""
    if value and re.fullmatch(r"[0-9A-Za-z_-]{1,64}", value):
        return f"`{value}`"
    return md_text(value, 64)
