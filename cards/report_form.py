"""The report form card: one input per template field, in a Card JSON 2.0 `form`.

Submitting calls back with ``{"a": "report.submit", "v": 1, "t": task_id, ...}`` and the
typed values in ``form_value`` (field key -> text). Percentages are typed as percent
points ("85"); the handler divides by 100.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from cards.actions import SubmitReport
from cards.elements import (
    CARD_BUDGET_BYTES,
    button,
    card,
    card_size,
    markdown,
    md_text,
    plain,
    plain_str,
    text_div,
    truncate,
)
from cards.i18n import format_day_time, norm_lang

SUBMIT_NAME = "report_submit"
FORM_NAME = "report_form"
INPUT_MAX_CHARS = 1000  # Feishu's input component takes at most 1000 characters
TEXT_MAX_CHARS = 200
MAX_PEOPLE = 100
NAME_CHARS = 60
COMMENT_CHARS = 1000

LABELS = {
    "zh": {
        "title": "填写 · {duty}",
        "subtitle": "{period} · 截止 {due}",
        "summary": "请填写：{duty}",
        "intro": "带 <font color='red'>*</font> 的为必填项。百分比请填百分数，例如 85 表示 85%。",
        "edit": "修改后将生成第 {n} 版，审批人看到的卡片会同步更新。",
        "redo": "**退回意见**（请修改后重新提交）",
        "kept": "原内容 {n} 字，表单放不下；留空则保留原内容。",
        "submit": "提交",
        "resubmit": "重新提交",
        "update": "提交修改",
        "placeholder": {
            "integer": "整数",
            "number": "数字",
            "money": "金额",
            "percent": "百分数，例如 85",
            "text": "请输入",
            "longtext": "请输入（可换行）",
            "date": "选择日期",
            "choice": "请选择",
            "person": "选择人员",
        },
        "unit": "（{unit}）",
    },
    "en": {
        "title": "Fill in · {duty}",
        "subtitle": "{period} · due {due}",
        "summary": "Please fill in: {duty}",
        "intro": "Fields marked <font color='red'>*</font> are required. Percentages in percent points: 85 means 85%.",
        "edit": "This creates version {n}; the approver's card is updated too.",
        "redo": "**Reason for rejection** (please fix and resubmit)",
        "kept": "The current text ({n} characters) does not fit in the form; leave empty to keep it.",
        "submit": "Submit",
        "resubmit": "Resubmit",
        "update": "Submit changes",
        "placeholder": {
            "integer": "whole number",
            "number": "number",
            "money": "amount",
            "percent": "percent, e.g. 85",
            "text": "type here",
            "longtext": "type here (several lines are fine)",
            "date": "pick a date",
            "choice": "choose",
            "person": "choose a person",
        },
        "unit": " ({unit})",
    },
}


@dataclass(frozen=True)
class FormField:
    key: str
    type: str  # a policy field type
    label: str  # in the card's language
    required: bool = False
    hint: str = ""  # the policy's example text
    unit: str | None = None
    default: str | None = None  # as typed (percent points), already converted
    choices: tuple[tuple[str, str], ...] = ()  # (key, label)
    people: tuple[str, ...] = ()  # open_ids offered by a person field
    max_length: int | None = None
    kept_chars: int = 0  # > 0: the previous value is kept when left empty


@dataclass(frozen=True)
class FormView:
    task_id: int
    duty_name: str
    period: str
    due_at: datetime  # team time zone
    now: datetime  # team time zone
    fields: tuple[FormField, ...]
    version: int = 1  # the version submitting creates
    comment: str | None = None  # the rejection comment being answered
    card_uuid: str | None = None  # outbox uuid of the message holding this card
    source_message: str = ""  # the card the form was opened from (updated on submit)


def _unit(f: FormField, lang: str) -> str:
    unit = "%" if f.type == "percent" else f.unit
    return LABELS[lang]["unit"].format(unit=unit) if unit else ""


def _label(f: FormField, lang: str) -> dict:
    star = " <font color='red'>*</font>" if f.required else ""
    return markdown(f"**{md_text(f.label, 120) or f.key}**{md_text(_unit(f, lang), 30)}{star}")


def _input(f: FormField, lang: str) -> dict:
    L = LABELS[lang]
    placeholder = plain_str(f.hint, 100) or L["placeholder"].get(f.type, "")
    if f.kept_chars:
        placeholder = L["kept"].format(n=f.kept_chars)
    required = f.required and not f.kept_chars
    if f.type == "date":
        el = {"tag": "date_picker", "name": f.key, "required": required}
        el["placeholder"] = plain(placeholder)
        if f.default:
            el["initial_date"] = f.default[:10]
        return el
    if f.type == "choice":
        el = {
            "tag": "select_static",
            "name": f.key,
            "required": required,
            "placeholder": plain(placeholder),
            "options": [
                {"text": plain(plain_str(label, 60) or key), "value": key}
                for key, label in f.choices
            ],
        }
        if f.default and any(k == f.default for k, _ in f.choices):
            el["initial_option"] = f.default
        return el
    if f.type == "person":
        el = {
            "tag": "select_person",
            "name": f.key,
            "required": required,
            "placeholder": plain(placeholder),
        }
        people = list(f.people[:MAX_PEOPLE])
        if f.default and f.default.startswith("ou_") and f.default not in people:
            people.insert(0, f.default)
        if people:  # in a direct chat the picker would otherwise offer only the bot and you
            el["options"] = [{"value": p} for p in people]
        if f.default and f.default.startswith("ou_"):
            el["initial_option"] = f.default
        return el
    limit = min(
        f.max_length or (INPUT_MAX_CHARS if f.type == "longtext" else TEXT_MAX_CHARS),
        INPUT_MAX_CHARS,
    )
    if f.type in ("integer", "number", "money", "percent"):
        limit = 40
    el = {
        "tag": "input",
        "name": f.key,
        "required": required,
        "placeholder": plain(placeholder),
        "max_length": limit,
    }
    if f.type == "longtext":
        el["input_type"] = "multiline_text"
        el["rows"] = 3
    if f.default:
        el["default_value"] = f.default[:limit]
    return el


def _build(view: FormView, lang: str) -> dict:
    L = LABELS[lang]
    due = format_day_time(view.due_at, lang, ref=view.now)
    duty = plain_str(view.duty_name, NAME_CHARS) or "—"
    elements: list[dict] = []
    if view.comment:
        elements.append(markdown(L["redo"]))
        elements.append(text_div(truncate(view.comment.strip(), COMMENT_CHARS)))
    elif view.version > 1:
        elements.append(markdown(L["edit"].format(n=view.version), text_size="notation"))
    elements.append(markdown(L["intro"], text_size="notation"))

    inputs: list[dict] = []
    for f in view.fields:
        inputs.append(_label(f, lang))
        inputs.append(_input(f, lang))
    kept = tuple(f.key for f in view.fields if f.kept_chars)
    value = SubmitReport(
        view.task_id, lang, view.card_uuid or "", kept, view.version, view.source_message
    ).pack()
    text = L["update"] if view.version > 1 and not view.comment else L["submit"]
    if view.comment:
        text = L["resubmit"]
    submit = button(text, value, style="primary_filled", name=SUBMIT_NAME)
    submit["form_action_type"] = "submit"
    inputs.append(submit)
    elements.append({"tag": "form", "name": FORM_NAME, "elements": inputs})
    return card(
        title=L["title"].format(duty=duty),
        subtitle=L["subtitle"].format(period=plain_str(view.period, 40) or "—", due=due),
        template="red" if view.comment else "blue",
        summary=L["summary"].format(duty=duty),
        elements=elements,
    )


def build_report_form(view: FormView, lang: str) -> dict:
    """The form card. Default values too big for the card (or for an input) are left out
    and kept: an empty input then means "keep what was there" (`k` in the button value)."""
    lang = norm_lang(lang)
    fields = list(view.fields)
    for i, f in enumerate(fields):
        if f.type in ("text", "longtext") and f.default and len(f.default) > INPUT_MAX_CHARS:
            fields[i] = replace(f, default=None, kept_chars=len(f.default))
    view = replace(view, fields=tuple(fields))
    result = _build(view, lang)
    while card_size(result) > CARD_BUDGET_BYTES:
        candidates = [
            (len(f.default or ""), i)
            for i, f in enumerate(fields)
            if f.default and not f.kept_chars
        ]
        if not candidates:
            break
        _, i = max(candidates)
        f = fields[i]
        keep = f.type in ("text", "longtext")
        fields[i] = replace(f, default=None, kept_chars=len(f.default or "") if keep else 0)
        view = replace(view, fields=tuple(fields))
        result = _build(view, lang)
    return result


__all__ = [
    "FORM_NAME",
    "SUBMIT_NAME",
    "FormField",
    "FormView",
    "build_report_form",
]
