"""A strict Card JSON 2.0 validator.

`validate_card(card)` returns a list of human-readable errors, each prefixed with the
JSON path of the offending value (``body.elements[2].behaviors[0].value: ...``); an
empty list means the card is valid. It is used by our tests and by the local Feishu
emulator, so it errs on the side of what real Feishu rejects (2.0 treats unsupported
properties as errors) and on what makes a real send fail (``@all``, > 30 KB).

Standard library only: the emulator imports this module.
"""

from __future__ import annotations

import json
import re
from typing import Any

CARD_MAX_BYTES = 30 * 1024
"""Feishu's limit for a card message body (error 230025), measured here as the UTF-8
length of ``json.dumps(card, ensure_ascii=False)``."""

MAX_ELEMENTS = 200
"""Feishu counts every tagged node of the body, text objects (plain_text, lark_md) included
(error 230099 / 11310 "element exceeds the limit")."""
MAX_NESTING = 5
"""Container levels (form, column_set/column, collapsible_panel, interactive_container)."""
MAX_HEADER_TAGS = 3

HEADER_TEMPLATES = frozenset(
    {
        "blue",
        "wathet",
        "turquoise",
        "green",
        "yellow",
        "orange",
        "red",
        "carmine",
        "violet",
        "purple",
        "indigo",
        "grey",
        "default",
    }
)
TEXT_TAG_COLORS = frozenset(
    {
        "neutral",
        "blue",
        "turquoise",
        "lime",
        "orange",
        "violet",
        "indigo",
        "wathet",
        "green",
        "yellow",
        "red",
        "purple",
        "carmine",
    }
)
BUTTON_TYPES = frozenset(
    {
        "default",
        "primary",
        "danger",
        "text",
        "primary_text",
        "danger_text",
        "primary_filled",
        "danger_filled",
        "laser",
    }
)
WIDTH_MODES = frozenset({"default", "compact", "fill"})
BEHAVIOR_TYPES = frozenset({"callback", "open_url", "form_action"})
TEXT_OBJECT_TAGS = frozenset({"plain_text", "lark_md"})

CONTAINER_TAGS = frozenset(
    {"form", "column_set", "column", "collapsible_panel", "interactive_container"}
)
INTERACTIVE_TAGS = frozenset(
    {
        "button",
        "input",
        "select_static",
        "multi_select_static",
        "select_person",
        "multi_select_person",
        "date_picker",
        "picker_time",
        "picker_datetime",
        "overflow",
        "checker",
    }
)
KNOWN_TAGS = (
    frozenset(
        {
            "markdown",
            "div",
            "hr",
            "img",
            "person",
            "person_list",
            "table",
            "chart",
        }
    )
    | CONTAINER_TAGS
    | INTERACTIVE_TAGS
)
# table and chart (Card JSON 2.0 content components; a table only at the body root)
MAX_TABLES = 5
MAX_CHARTS = 5  # Feishu's recommendation; more render poorly on mobile
MAX_TABLE_COLUMNS = 50
TABLE_KEYS = frozenset(
    {
        "tag",
        "element_id",
        "margin",
        "page_size",
        "row_height",
        "row_max_height",
        "freeze_first_column",
        "header_style",
        "columns",
        "rows",
    }
)
TABLE_HEADER_STYLE_KEYS = frozenset(
    {"text_align", "text_size", "background_style", "text_color", "bold", "lines"}
)
TABLE_COLUMN_KEYS = frozenset(
    {
        "name",
        "display_name",
        "data_type",
        "width",
        "horizontal_align",
        "vertical_align",
        "format",
        "date_format",
    }
)
TABLE_DATA_TYPES = frozenset(
    {"text", "lark_md", "markdown", "number", "options", "persons", "date"}
)
CHART_KEYS = frozenset(
    {
        "tag",
        "element_id",
        "margin",
        "chart_spec",
        "aspect_ratio",
        "color_theme",
        "height",
        "preview",
    }
)
CHART_ASPECT_RATIOS = frozenset({"1:1", "2:1", "4:3", "16:9"})
CHART_THEMES = frozenset({"brand", "rainbow", "complementary", "converse", "primary"})
FORM_ONLY_TAGS = frozenset({"multi_select_static", "multi_select_person"})
NOT_IN_FORM_TAGS = frozenset({"form", "table", "chart"})
LEGACY_TAGS = {
    "action": "the JSON 1.0 'action' module does not exist in 2.0; "
    "put buttons directly in elements or in a column_set",
    "note": "'note' is a JSON 1.0 element; use markdown with text_size 'notation'",
}
TOP_LEVEL_KEYS = frozenset({"schema", "config", "header", "body", "card_link"})
LEGACY_TOP_LEVEL_KEYS = frozenset({"elements", "i18n_elements", "i18n_header", "fallback"})

_ELEMENT_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,19}$")
_AT_TAG_RE = re.compile(r"<\s*at\b([^>]*)>", re.IGNORECASE)
_AT_TOKEN_SPLIT_RE = re.compile(r"[\s,;'\"=/]+")


def validate_card(card: Any) -> list[str]:
    """Return every problem found in `card` (a Card JSON 2.0 dict); [] means valid."""
    v = _Validator()
    v.card(card)
    return v.errors


def count_elements(node: Any) -> int:
    """Tagged nodes in ``node`` (a card body, an element list or one element), counted as
    Feishu counts them: every dict with a ``tag``, text objects included."""
    if isinstance(node, dict):
        own = 1 if isinstance(node.get("tag"), str) else 0
        return own + sum(count_elements(v) for v in node.values() if isinstance(v, dict | list))
    if isinstance(node, list):
        return sum(count_elements(v) for v in node)
    return 0


def mentions_all(markdown: str) -> bool:
    """True if `markdown` contains an ``<at>`` tag addressed to everyone.

    Lenient on purpose: any ``all`` token among the tag's attributes counts
    (``<at id=all>``, ``<at user_id="all">``, ``<at ids=ou_1, all>``).
    """
    for match in _AT_TAG_RE.finditer(markdown):
        tokens = _AT_TOKEN_SPLIT_RE.split(match.group(1).lower())
        if "all" in tokens:
            return True
    return False


class _Validator:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.names: dict[str, str] = {}
        self.element_ids: dict[str, str] = {}
        self.tables = 0
        self.charts = 0

    def err(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    # -- top level -------------------------------------------------------------------

    def card(self, card: Any) -> None:
        if not isinstance(card, dict):
            self.err("card", f"must be an object, got {type(card).__name__}")
            return
        if card.get("schema") != "2.0":
            self.err("schema", f'must be "2.0", got {card.get("schema")!r}')
        for key in card:
            if key in LEGACY_TOP_LEVEL_KEYS:
                self.err(key, "JSON 1.0 property; 2.0 cards put elements under body.elements")
            elif key not in TOP_LEVEL_KEYS:
                self.err(key, "unknown top-level property")
        if "config" in card:
            self.config(card["config"])
        if "header" in card:
            self.header(card["header"])
        self.body(card.get("body"))
        self.size(card)

    def config(self, config: Any) -> None:
        if not isinstance(config, dict):
            self.err("config", "must be an object")
            return
        if "update_multi" in config and config["update_multi"] is not True:
            self.err("config.update_multi", "2.0 cards are always shared; only true is allowed")
        if "width_mode" in config and config["width_mode"] not in WIDTH_MODES:
            self.err("config.width_mode", f"must be one of {sorted(WIDTH_MODES)}")
        if "summary" in config:
            summary = config["summary"]
            if not isinstance(summary, dict) or not isinstance(summary.get("content"), str):
                self.err("config.summary", "must be an object with a string content")

    def header(self, header: Any) -> None:
        if not isinstance(header, dict):
            self.err("header", "must be an object")
            return
        title = header.get("title")
        if not isinstance(title, dict):
            self.err("header.title", "required")
        else:
            self.text_object("header.title", title, plain_only=True)
            if not (isinstance(title.get("content"), str) and title["content"].strip()):
                self.err("header.title.content", "must be a non-empty string")
        if "subtitle" in header:
            self.text_object("header.subtitle", header["subtitle"], plain_only=True)
        if "template" in header and header["template"] not in HEADER_TEMPLATES:
            self.err("header.template", f"unknown colour {header['template']!r}")
        if "text_tag_list" in header:
            tags = header["text_tag_list"]
            if not isinstance(tags, list):
                self.err("header.text_tag_list", "must be a list")
                return
            if len(tags) > MAX_HEADER_TAGS:
                self.err("header.text_tag_list", f"at most {MAX_HEADER_TAGS} tags, got {len(tags)}")
            for i, tag in enumerate(tags):
                path = f"header.text_tag_list[{i}]"
                if not isinstance(tag, dict) or tag.get("tag") != "text_tag":
                    self.err(path, "must be a text_tag object")
                    continue
                self.text_object(f"{path}.text", tag.get("text"), plain_only=True)
                if "color" in tag and tag["color"] not in TEXT_TAG_COLORS:
                    self.err(f"{path}.color", f"unknown colour {tag['color']!r}")

    def body(self, body: Any) -> None:
        if not isinstance(body, dict):
            self.err("body", "required object with an elements list")
            return
        elements = body.get("elements")
        if not isinstance(elements, list):
            self.err("body.elements", "must be a list")
            return
        self.elements("body.elements", elements, depth=0, in_form=False)
        count = count_elements(elements)
        if count > MAX_ELEMENTS:
            self.err(
                "body", f"at most {MAX_ELEMENTS} elements (text objects included), got {count}"
            )

    def size(self, card: dict) -> None:
        try:
            text = json.dumps(card, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            self.err("card", f"not JSON-serialisable: {exc}")
            return
        size = len(text.encode("utf-8"))
        if size > CARD_MAX_BYTES:
            self.err("card", f"{size} bytes exceeds the {CARD_MAX_BYTES}-byte limit")

    # -- elements --------------------------------------------------------------------

    def elements(self, path: str, elements: Any, *, depth: int, in_form: bool) -> None:
        if not isinstance(elements, list):
            self.err(path, "must be a list")
            return
        for i, element in enumerate(elements):
            self.element(f"{path}[{i}]", element, depth=depth, in_form=in_form)

    def element(self, path: str, el: Any, *, depth: int, in_form: bool) -> None:
        if not isinstance(el, dict):
            self.err(path, "element must be an object")
            return
        tag = el.get("tag")
        if tag in LEGACY_TAGS:
            self.err(path, LEGACY_TAGS[tag])
            return
        if tag not in KNOWN_TAGS:
            self.err(path, f"unknown tag {tag!r}")
            return
        if tag == "column":
            self.err(path, "column is only allowed inside column_set.columns")
            return
        if tag == "table" and depth > 0:
            self.err(path, "a table can only sit at the body root, not inside a container")

        self.identity(path, el, tag, in_form)
        if "behaviors" in el:
            self.behaviors(f"{path}.behaviors", el["behaviors"])
        if tag in FORM_ONLY_TAGS and not in_form:
            self.err(path, f"{tag} only works inside a form")
        if in_form and tag in NOT_IN_FORM_TAGS:
            self.err(
                path, "forms cannot be nested" if tag == "form" else f"{tag} not allowed in a form"
            )
        if tag == "button" and "form_action_type" in el and not in_form:
            self.err(
                f"{path}.form_action_type", "only buttons inside a form can submit or reset it"
            )

        check = getattr(self, f"el_{tag}", None)
        if check is not None:
            check(path, el)

        if tag in CONTAINER_TAGS:
            if depth + 1 > MAX_NESTING:
                self.err(path, f"nested deeper than {MAX_NESTING} container levels")
                return
            if tag == "form":
                if depth > 0 and not in_form:
                    self.err(path, "a form must sit at the body root")
                self.form(path, el, depth)
            elif tag == "column_set":
                self.column_set(path, el, depth, in_form)
            else:
                self.elements(
                    f"{path}.elements", el.get("elements", []), depth=depth + 1, in_form=in_form
                )

    def identity(self, path: str, el: dict, tag: str, in_form: bool) -> None:
        name = el.get("name")
        if name is not None and not isinstance(name, str):
            self.err(f"{path}.name", "must be a string")
            name = None
        if in_form and tag in INTERACTIVE_TAGS and not (name and name.strip()):
            self.err(f"{path}.name", f"{tag} inside a form needs a non-empty name (200530)")
        if tag == "form" and not (name and name.strip()):
            self.err(f"{path}.name", "a form needs a non-empty name")
        if name:
            if name in self.names:
                self.err(f"{path}.name", f"duplicate name {name!r} (also at {self.names[name]})")
            else:
                self.names[name] = path
        if "element_id" in el:
            eid = el["element_id"]
            if not isinstance(eid, str) or not _ELEMENT_ID_RE.match(eid):
                self.err(f"{path}.element_id", "must start with a letter, [A-Za-z0-9_], ≤ 20 chars")
            elif eid in self.element_ids:
                self.err(f"{path}.element_id", f"duplicate element_id {eid!r}")
            else:
                self.element_ids[eid] = path

    def behaviors(self, path: str, behaviors: Any) -> None:
        if not isinstance(behaviors, list):
            self.err(path, "must be a list")
            return
        for i, b in enumerate(behaviors):
            bpath = f"{path}[{i}]"
            if not isinstance(b, dict):
                self.err(bpath, "must be an object")
                continue
            kind = b.get("type")
            if kind not in BEHAVIOR_TYPES:
                self.err(f"{bpath}.type", f"unknown behavior type {kind!r}")
            elif kind == "callback":
                if not isinstance(b.get("value"), dict):
                    got = type(b.get("value")).__name__
                    self.err(f"{bpath}.value", f"callback value must be an object, got {got}")
            elif kind == "open_url":
                if not isinstance(b.get("default_url"), str) or not b["default_url"]:
                    self.err(f"{bpath}.default_url", "required string")

    def form(self, path: str, el: dict, depth: int) -> None:
        elements = el.get("elements")
        if not isinstance(elements, list) or not elements:
            self.err(f"{path}.elements", "a form needs a non-empty elements list")
            return
        self.elements(f"{path}.elements", elements, depth=depth + 1, in_form=True)
        if not _has_submit(elements):
            self.err(path, 'a form needs a button with form_action_type "submit"')

    def column_set(self, path: str, el: dict, depth: int, in_form: bool) -> None:
        columns = el.get("columns", [])
        if not isinstance(columns, list):
            self.err(f"{path}.columns", "must be a list")
            return
        for i, col in enumerate(columns):
            cpath = f"{path}.columns[{i}]"
            if not isinstance(col, dict) or col.get("tag") != "column":
                self.err(cpath, "column_set.columns may only hold column elements")
                continue
            self.identity(cpath, col, "column", in_form)
            if "behaviors" in col:
                self.behaviors(f"{cpath}.behaviors", col["behaviors"])
            # column_set + column count as one nesting level
            self.elements(
                f"{cpath}.elements", col.get("elements", []), depth=depth + 1, in_form=in_form
            )

    # -- per-tag checks --------------------------------------------------------------

    def text_object(self, path: str, obj: Any, *, plain_only: bool = False) -> None:
        allowed = {"plain_text"} if plain_only else TEXT_OBJECT_TAGS
        if not isinstance(obj, dict):
            self.err(path, "must be a text object")
            return
        if obj.get("tag") not in allowed:
            self.err(
                f"{path}.tag", f"must be {' or '.join(sorted(allowed))}, got {obj.get('tag')!r}"
            )
        if not isinstance(obj.get("content", ""), str):
            self.err(f"{path}.content", "must be a string")
        self.no_at_all(path, obj)

    def no_at_all(self, path: str, obj: dict) -> None:
        """Flag @all in any text (the send fails without permission): markdown, and
        plain_text too, where Feishu parses <at …> as well."""
        if obj.get("tag") not in ("markdown", "lark_md", "plain_text"):
            return
        texts = [obj.get("content")]
        i18n = obj.get("i18n_content")
        if isinstance(i18n, dict):
            texts.extend(i18n.values())
        if any(isinstance(t, str) and mentions_all(t) for t in texts):
            self.err(path, "mentions @all (<at id=all>): the send fails unless the bot may @all")

    def el_markdown(self, path: str, el: dict) -> None:
        if not isinstance(el.get("content"), str):
            self.err(f"{path}.content", "required string")
        self.no_at_all(path, el)

    def el_div(self, path: str, el: dict) -> None:
        if "text" not in el and "fields" not in el:
            self.err(path, "div needs text or fields")
        if "text" in el:
            self.text_object(f"{path}.text", el["text"])
        fields = el.get("fields", [])
        if not isinstance(fields, list):
            self.err(f"{path}.fields", "must be a list")
            return
        for i, field in enumerate(fields):
            if not isinstance(field, dict):
                self.err(f"{path}.fields[{i}]", "must be an object")
                continue
            self.text_object(f"{path}.fields[{i}].text", field.get("text"))

    def el_button(self, path: str, el: dict) -> None:
        self.text_object(f"{path}.text", el.get("text"))
        if "type" in el and el["type"] not in BUTTON_TYPES:
            self.err(f"{path}.type", f"unknown button type {el['type']!r}")
        if "value" in el and not isinstance(el["value"], dict):
            self.err(
                f"{path}.value", f"button value must be an object, got {type(el['value']).__name__}"
            )
        fat = el.get("form_action_type")
        if fat is not None and fat not in ("submit", "reset"):
            self.err(f"{path}.form_action_type", "must be submit or reset")

    def el_img(self, path: str, el: dict) -> None:
        if not isinstance(el.get("img_key"), str) or not el["img_key"]:
            self.err(f"{path}.img_key", "required string")

    def el_person(self, path: str, el: dict) -> None:
        if not isinstance(el.get("user_id"), str) or not el["user_id"]:
            self.err(f"{path}.user_id", "required string")

    def el_select_static(self, path: str, el: dict) -> None:
        options = el.get("options", [])
        if not isinstance(options, list):
            self.err(f"{path}.options", "must be a list")
            return
        for i, opt in enumerate(options):
            opath = f"{path}.options[{i}]"
            if not isinstance(opt, dict):
                self.err(opath, "must be an object")
                continue
            self.text_object(f"{opath}.text", opt.get("text"))
            if not isinstance(opt.get("value"), str):
                self.err(f"{opath}.value", "required string")

    el_multi_select_static = el_select_static
    el_overflow = el_select_static

    def el_table(self, path: str, el: dict) -> None:
        self.tables += 1
        if self.tables == MAX_TABLES + 1:
            self.err(path, f"at most {MAX_TABLES} tables per card")
        self.strict_keys(path, el, TABLE_KEYS)
        page_size = el.get("page_size", 5)
        if not (isinstance(page_size, int) and not isinstance(page_size, bool)) or not (
            1 <= page_size <= 10
        ):
            self.err(f"{path}.page_size", "must be an integer 1..10")
        if "row_height" in el and not _row_height_ok(el["row_height"]):
            self.err(f"{path}.row_height", "must be low, middle, high, auto or 32px..124px")
        if "freeze_first_column" in el and not isinstance(el["freeze_first_column"], bool):
            self.err(f"{path}.freeze_first_column", "must be a boolean")
        if "header_style" in el:
            style = el["header_style"]
            if not isinstance(style, dict):
                self.err(f"{path}.header_style", "must be an object")
            else:
                self.strict_keys(f"{path}.header_style", style, TABLE_HEADER_STYLE_KEYS)
        columns, rows = el.get("columns"), el.get("rows")
        if not isinstance(columns, list) or not columns:
            self.err(f"{path}.columns", "required non-empty list")
            columns = []
        if len(columns) > MAX_TABLE_COLUMNS:
            self.err(f"{path}.columns", f"at most {MAX_TABLE_COLUMNS} columns")
        if not isinstance(rows, list):
            self.err(f"{path}.rows", "required list")
            rows = []
        types: dict[str, str] = {}
        for c, column in enumerate(columns):
            cpath = f"{path}.columns[{c}]"
            if not isinstance(column, dict):
                self.err(cpath, "must be an object")
                continue
            self.strict_keys(cpath, column, TABLE_COLUMN_KEYS)
            name = column.get("name")
            if not isinstance(name, str) or not name:
                self.err(f"{cpath}.name", "required string")
                continue
            if name in types:
                self.err(f"{cpath}.name", f"duplicate column name {name!r}")
            data_type = column.get("data_type", "text")
            if data_type not in TABLE_DATA_TYPES:
                self.err(
                    f"{cpath}.data_type",
                    f"unknown data_type {data_type!r} (one of {sorted(TABLE_DATA_TYPES)})",
                )
            if "display_name" in column and not isinstance(column["display_name"], str):
                self.err(f"{cpath}.display_name", "must be a string")
            if "width" in column and not _column_width_ok(column["width"]):
                self.err(f"{cpath}.width", "must be auto, 80px..600px or a percentage")
            types[name] = data_type
        for r, row in enumerate(rows):
            rpath = f"{path}.rows[{r}]"
            if not isinstance(row, dict):
                self.err(rpath, "must be an object")
                continue
            for name, cell in row.items():
                if name not in types:
                    self.err(f"{rpath}.{name}", "no column has this name")
                elif cell is not None and not _cell_ok(types[name], cell):
                    self.err(f"{rpath}.{name}", f"not a valid {types[name]} cell")
                elif isinstance(cell, str) and mentions_all(cell):
                    self.err(f"{rpath}.{name}", "mentions @all (<at id=all>)")

    def el_chart(self, path: str, el: dict) -> None:
        self.charts += 1
        if self.charts == MAX_CHARTS + 1:
            self.err(path, f"at most {MAX_CHARTS} charts per card")
        self.strict_keys(path, el, CHART_KEYS)
        spec = el.get("chart_spec")
        if not isinstance(spec, dict):
            self.err(f"{path}.chart_spec", "required object (a VChart spec)")
        elif not isinstance(spec.get("type"), str) or not spec["type"]:
            self.err(f"{path}.chart_spec.type", "required string (line, bar, pie, …)")
        if "aspect_ratio" in el and el["aspect_ratio"] not in CHART_ASPECT_RATIOS:
            self.err(f"{path}.aspect_ratio", f"must be one of {sorted(CHART_ASPECT_RATIOS)}")
        if "color_theme" in el and el["color_theme"] not in CHART_THEMES:
            self.err(f"{path}.color_theme", f"must be one of {sorted(CHART_THEMES)}")
        if "height" in el and not _chart_height_ok(el["height"]):
            self.err(f"{path}.height", "must be auto or 1px..999px")
        if "preview" in el and not isinstance(el["preview"], bool):
            self.err(f"{path}.preview", "must be a boolean")

    def strict_keys(self, path: str, el: dict, allowed: frozenset[str]) -> None:
        """2.0 rejects unsupported properties (used for the components we check fully)."""
        for key in el:
            if key not in allowed:
                self.err(f"{path}.{key}", "unsupported property")


_PX_RE = re.compile(r"^(\d{1,3})px$")


def _px_in(value: Any, lo: int, hi: int) -> bool:
    m = _PX_RE.match(value) if isinstance(value, str) else None
    return bool(m) and lo <= int(m.group(1)) <= hi


def _row_height_ok(value: Any) -> bool:
    return value in ("low", "middle", "high", "auto") or _px_in(value, 32, 124)


def _column_width_ok(value: Any) -> bool:
    if value == "auto" or _px_in(value, 80, 600):
        return True
    return isinstance(value, str) and re.fullmatch(r"\d{1,3}(\.\d+)?%", value) is not None


def _chart_height_ok(value: Any) -> bool:
    return value == "auto" or _px_in(value, 1, 999)


def _cell_ok(data_type: str, cell: Any) -> bool:
    number = isinstance(cell, int | float) and not isinstance(cell, bool)
    if data_type in ("text", "lark_md", "markdown"):
        return isinstance(cell, str)
    if data_type == "number":
        return number
    if data_type == "date":
        return number
    if data_type == "persons":
        return isinstance(cell, str) or (
            isinstance(cell, list) and all(isinstance(x, str) for x in cell)
        )
    if data_type == "options":
        return isinstance(cell, list) and all(
            isinstance(x, dict) and isinstance(x.get("text"), str) for x in cell
        )
    return False


def _has_submit(elements: list) -> bool:
    for el in elements:
        if not isinstance(el, dict):
            continue
        if el.get("tag") == "button" and el.get("form_action_type") == "submit":
            return True
        children = []
        if isinstance(el.get("elements"), list):
            children.extend(el["elements"])
        if isinstance(el.get("columns"), list):
            for col in el["columns"]:
                if isinstance(col, dict) and isinstance(col.get("elements"), list):
                    children.extend(col["elements"])
        if _has_submit(children):
            return True
    return False
