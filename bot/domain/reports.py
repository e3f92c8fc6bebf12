"""Report logic: typed field values, validation, KPI results, the `field: value` text
parser and matching a chat phrase to a duty. Pure Python, no I/O.

Value conventions (what `Report.values` stores, see storage/models.Report):

* integer -> int; number / money -> int when whole, else float; percent -> a *fraction*
  (0.85 = 85 %). People type percent points ("85" or "85%") in forms and chat.
* date -> "YYYY-MM-DD"; choice -> the choice key; person -> an open_id ("ou_…"), or the
  name as typed when it cannot be resolved; text / longtext -> the text.
* Empty optional fields are left out.

Every error names its field in both languages (`FieldError.message(lang)`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.domain.policy import Duty, Kpi, ReportField, ReportTemplate

__all__ = [
    "DEFAULT_MAX_CHARS",
    "FieldError",
    "TextSubmission",
    "display_value",
    "duty_match_score",
    "evaluate_kpis",
    "form_default",
    "format_errors",
    "kpi_misses",
    "names_something",
    "parse_text_submission",
    "parse_value",
    "strip_command",
    "validate_values",
]

DEFAULT_MAX_CHARS = {"text": 500, "longtext": 50_000, "person": 100}
"""Server-side length limits when the policy sets no `max_length` (a 40 KB field fits)."""

_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_NUMBER_RE = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_COUNTER_RE = re.compile(r"^[\u4e00-\u9fff]{1,2}$")  # 人, 场, 次, 篇, 条, 个 …
_MONEY_PREFIXES = ("¥", "rmb", "cny", "$")
_MONEY_SUFFIXES = ("元", "块", "rmb", "cny", "人民币")
_MULTIPLIERS = {"万": 10_000, "亿": 100_000_000}


@dataclass(frozen=True)
class FieldError:
    """One problem, in both languages. `key` is the field key ("" for a line problem)."""

    key: str
    zh: str
    en: str

    def message(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class _Invalid(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def _num(x: float) -> str:
    """12000.0 -> "12,000"; 0.5 -> "0.5" (for messages and display)."""
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.4f}".rstrip("0").rstrip(".")


def _plain_num(x: float) -> str:
    """Like _num without thousands separators (form default values)."""
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.6f}".rstrip("0").rstrip(".")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def clean_text(text: str) -> str:
    """Control characters dropped (NUL breaks PostgreSQL), line endings normalised."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", text)


# -- one value ---------------------------------------------------------------------------


def parse_value(
    f: ReportField,
    raw: Any,
    *,
    today: date | None = None,
    people: Callable[[str], str | None] | None = None,
) -> Any:
    """The stored value of `raw` (a form or chat string) for field `f`; None when empty.

    Raises `ValueError` subclass `_Invalid` (use `validate_values` for messages)."""
    if raw is None:
        return None
    if isinstance(raw, bool) or isinstance(raw, list | dict | tuple):
        raise _Invalid("格式不正确", "has the wrong format")
    if isinstance(raw, int | float):
        if f.type not in ("integer", "number", "money", "percent"):
            raw = _plain_num(float(raw))
        elif not math.isfinite(float(raw)):
            raise _Invalid("不是有效的数字", "is not a valid number")
    if isinstance(raw, str):
        raw = clean_text(raw).strip()
        if not raw:
            return None
    if f.type in ("integer", "number", "money", "percent"):
        return _parse_number(f, raw)
    if f.type in ("text", "longtext"):
        return _parse_text(f, str(raw))
    if f.type == "date":
        return _parse_date(str(raw), today)
    if f.type == "choice":
        return _parse_choice(f, str(raw))
    if f.type == "person":
        return _parse_person(str(raw), people)
    raise _Invalid("未知的字段类型", "has an unknown type")


def _parse_number(f: ReportField, raw: Any) -> int | float:
    if isinstance(raw, int | float):
        value = float(raw)
        rest = ""
    else:
        s = _nfkc(raw).strip().lower().replace(" ", "")
        if f.type == "money":
            for prefix in _MONEY_PREFIXES:
                if s.startswith(prefix):
                    s = s[len(prefix) :]
                    break
        m = _NUMBER_RE.match(s)
        if not m:
            raise _invalid_number(f)
        value = float(m.group(0).replace(",", ""))
        rest = s[m.end() :]
        if rest[:1] in _MULTIPLIERS and f.type != "percent":
            value *= _MULTIPLIERS[rest[0]]
            rest = rest[1:]
    if rest:
        unit = _nfkc(f.unit or "").lower().replace(" ", "")
        allowed = rest == unit or (f.type == "percent" and rest == "%")
        allowed = allowed or (f.type == "money" and rest in _MONEY_SUFFIXES)
        allowed = allowed or (f.type in ("integer", "number") and bool(_COUNTER_RE.match(rest)))
        if not allowed:
            raise _invalid_number(f)
    if not math.isfinite(value):
        raise _invalid_number(f)
    if f.type == "percent":
        value = round(value / 100, 10)
    if f.type == "integer":
        if abs(value - round(value)) > 1e-9:
            raise _Invalid("须为整数", "must be a whole number")
        value = round(value)
    _check_range(f, value)
    if f.type in ("number", "money") and float(value).is_integer():
        return int(value)
    return value


def _invalid_number(f: ReportField) -> _Invalid:
    if f.type == "percent":
        return _Invalid(
            "不是有效的百分比（例如 85 或 85%）", "is not a percentage (e.g. 85 or 85%)"
        )
    if f.type == "integer":
        return _Invalid("须为整数", "must be a whole number")
    if f.type == "money":
        return _Invalid("不是有效的金额（例如 12000 或 1.2万）", "is not an amount (e.g. 12000)")
    return _Invalid("不是有效的数字", "is not a number")


def _shown(f: ReportField, value: float) -> str:
    """A limit as the user types it: percent points for percent fields."""
    if f.type == "percent":
        return f"{_num(round(value * 100, 6))}%"
    return _num(value)


def _check_range(f: ReportField, value: float) -> None:
    lo, hi = f.min, f.max
    eps = 1e-9
    if lo is not None and hi is not None and not (lo - eps <= value <= hi + eps):
        a, b = _shown(f, lo), _shown(f, hi)
        raise _Invalid(f"须在 {a} 到 {b} 之间", f"must be between {a} and {b}")
    if lo is not None and value < lo - eps:
        raise _Invalid(f"不能小于 {_shown(f, lo)}", f"must be at least {_shown(f, lo)}")
    if hi is not None and value > hi + eps:
        raise _Invalid(f"不能大于 {_shown(f, hi)}", f"must be at most {_shown(f, hi)}")


def _parse_text(f: ReportField, raw: str) -> str:
    limit = f.max_length or DEFAULT_MAX_CHARS.get(f.type, 500)
    if len(raw) > limit:
        raise _Invalid(
            f"最多 {limit:,} 个字（现有 {len(raw):,} 个）",
            f"is limited to {limit:,} characters (got {len(raw):,})",
        )
    return raw


_DATE_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?$"),
    re.compile(r"^(?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$"),
    re.compile(r"^(?P<m>\d{1,2})月(?P<d>\d{1,2})[日号]?$"),
)


def _parse_date(raw: str, today: date | None) -> str:
    s = _nfkc(raw).strip()
    # The date picker sends "2024-04-01 +0800"; a time part may follow a typed date.
    s = re.sub(r"\s+[+-]\d{4}$", "", s)
    s = re.sub(r"[T\s]\d{1,2}:\d{2}(:\d{2})?$", "", s).strip()
    for pattern in _DATE_PATTERNS:
        m = pattern.match(s)
        if not m:
            continue
        parts = m.groupdict()
        year = int(parts["y"]) if parts.get("y") else (today.year if today else None)
        if year is None:
            break
        try:
            return date(year, int(parts["m"]), int(parts["d"])).isoformat()
        except ValueError:
            raise _Invalid("不是有效的日期", "is not a valid date") from None
    raise _Invalid("不是有效的日期（例如 2026-11-27）", "is not a date (e.g. 2026-11-27)")


def _parse_choice(f: ReportField, raw: str) -> str:
    want = _nfkc(raw).strip().lower()
    for c in f.choices:
        if want in (c.key.lower(), _nfkc(c.label_zh).lower(), _nfkc(c.label_en).lower()):
            return c.key
    zh = "、".join(c.label_zh for c in f.choices)
    en = ", ".join(c.label_en for c in f.choices)
    raise _Invalid(f"须为以下之一：{zh}", f"must be one of: {en}")


def _parse_person(raw: str, people: Callable[[str], str | None] | None) -> str:
    s = raw.strip()
    if len(s) > DEFAULT_MAX_CHARS["person"]:
        raise _Invalid("太长了", "is too long")
    if re.fullmatch(r"ou_[A-Za-z0-9_-]+", s):
        return s
    name = s.lstrip("@").strip()
    if people is not None:
        found = people(name)
        if found:
            return found
    if not name:
        raise _Invalid("请填写姓名或 @ 提及此人", "needs a name or an @-mention")
    return name


# -- a whole report ----------------------------------------------------------------------


def validate_values(
    template: ReportTemplate,
    raw: Mapping[str, Any],
    *,
    today: date | None = None,
    people: Callable[[str], str | None] | None = None,
    keep: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Check every field of `template` against `raw` ({field key: typed text}).

    Returns the stored values and the errors (in template order). Keys `raw` has that the
    template does not are ignored. `keep`: previous values used when a field comes empty
    (an edit form that could not show a long value)."""
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for f in template.fields:
        try:
            value = parse_value(f, raw.get(f.key), today=today, people=people)
        except _Invalid as exc:
            errors.append(
                FieldError(f.key, f"「{f.label_zh}」{exc.zh}", f'"{f.label_en}" {exc.en}')
            )
            continue
        if value is None and keep and keep.get(f.key) is not None:
            value = keep[f.key]
        if value is None:
            if f.required:
                errors.append(
                    FieldError(f.key, f"「{f.label_zh}」是必填项", f'"{f.label_en}" is required')
                )
            continue
        values[f.key] = value
    return values, errors


def format_errors(errors: Iterable[FieldError], lang: str, limit: int = 6) -> str:
    """The errors as one short text (toasts are short: the first `limit`, then "+N")."""
    errors = list(errors)
    sep = "；" if lang != "en" else "; "
    text = sep.join(e.message(lang) for e in errors[:limit])
    if len(errors) > limit:
        more = len(errors) - limit
        text += f"{sep}另有 {more} 处" if lang != "en" else f"{sep}and {more} more"
    return text


# -- KPIs --------------------------------------------------------------------------------


def _kpi_json(kpi: Kpi, values: Mapping[str, Any]) -> dict[str, Any]:
    result = kpi.evaluate(values)
    return {
        "key": kpi.key,
        "label_zh": kpi.label_zh,
        "label_en": kpi.label_en,
        "value": result.value,
        "display": result.format_value(),
        "op": kpi.op,
        "threshold": kpi.threshold,
        "threshold_display": kpi.format_value(kpi.threshold),
        "ok": result.ok,
    }


def evaluate_kpis(template: ReportTemplate, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`Report.kpis`: one object per KPI check; value/ok are None when not computable."""
    return [_kpi_json(k, values) for k in template.kpis]


def kpi_misses(kpis: Iterable[Mapping[str, Any]]) -> int:
    return sum(1 for k in kpis if k.get("ok") is False)


# -- showing values ----------------------------------------------------------------------


def display_value(
    f: ReportField | None, value: Any, lang: str, names: Mapping[str, str] | None = None
) -> str:
    """A stored value as text for a card ("85%", "12,000 元", "线下", a person's name)."""
    if value is None:
        return ""
    if f is None:
        return str(value)
    if f.type in ("integer", "number", "money", "percent") and isinstance(value, int | float):
        if f.type == "percent":
            return f"{_num(round(float(value) * 100, 4))}%"
        text = _num(float(value))
        return f"{text} {f.unit}" if f.unit else text
    if f.type == "choice":
        c = f.choice(str(value))
        return c.label(lang) if c else str(value)
    if f.type == "person":
        return (names or {}).get(str(value), str(value))
    return str(value)


def form_default(f: ReportField, value: Any) -> str | None:
    """A stored value as the form's default text (percent as percent points)."""
    if value is None:
        return None
    if f.type in ("integer", "number", "money", "percent") and isinstance(value, int | float):
        if isinstance(value, bool):
            return None
        return _plain_num(float(value) * 100 if f.type == "percent" else float(value))
    return str(value)


# -- the text submission -----------------------------------------------------------------


@dataclass
class TextSubmission:
    """A chat message split into the command line and `field: value` pairs."""

    command: str  # the first line when it is not a field (e.g. "提交周报")
    raw: dict[str, str] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return len(self.raw)


def _label_key(text: str) -> str:
    text = _nfkc(text).lower().replace("《", "").replace("》", "")
    return re.sub(r"\s+", " ", text).strip()


def field_aliases(f: ReportField) -> set[str]:
    """What a person may write before the colon for this field."""
    out = {f.key.lower(), f.key.lower().replace("_", " ")}
    for label in (f.label_zh, f.label_en):
        full = _label_key(label)
        out.add(full)
        bare = re.sub(r"\([^)]*\)", "", full).strip()  # "风险(品牌声誉…)" -> "风险"
        out.add(bare)
        if ":" in bare:  # "其中:扫码关注数" -> "扫码关注数"
            out.add(bare.rsplit(":", 1)[1].strip())
    return {a for a in out if a}


def _alias_table(template: ReportTemplate) -> dict[str, ReportField]:
    table: dict[str, ReportField] = {}
    ambiguous: set[str] = set()
    for f in template.fields:
        for alias in field_aliases(f):
            if alias in table and table[alias].key != f.key:
                ambiguous.add(alias)
            table[alias] = f
    for alias in ambiguous:
        del table[alias]
    return table


_COLONS = (":", "：")


def _split_label(line: str, aliases: Mapping[str, ReportField]) -> tuple[ReportField, str] | None:
    """(field, value) when `line` starts with a known label and a colon."""
    for i, ch in enumerate(line):
        if ch in _COLONS:
            f = aliases.get(_label_key(line[:i]))
            if f is not None:
                return f, line[i + 1 :].strip()
    return None


def _looks_like_label(line: str) -> str | None:
    for i, ch in enumerate(line):
        if ch in _COLONS:
            label = line[:i].strip()
            if 0 < len(label) <= 40 and "http" not in label.lower():
                return label
            return None
    return None


def parse_text_submission(text: str, template: ReportTemplate) -> TextSubmission:
    """Parse "提交周报\\n完成率: 85%\\n风险点: …" (one `label: value` per line; Chinese or
    English labels, the field key, ":" or "："). Long-text values may continue on the
    following lines. The values still need `validate_values`."""
    aliases = _alias_table(template)
    lines = clean_text(text).split("\n")
    out = TextSubmission(command="")
    current: ReportField | None = None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            if current is not None and current.type == "longtext":
                out.raw[current.key] += "\n"
            continue
        hit = _split_label(line.strip(), aliases)
        if hit is not None:
            f, value = hit
            if f.key in out.raw:
                out.errors.append(
                    FieldError(f.key, f"「{f.label_zh}」写了两次", f'"{f.label_en}" is given twice')
                )
            out.raw[f.key] = value
            current = f
            continue
        if current is None and n == 1:
            out.command = line.strip()
            continue
        if current is not None and current.type in ("longtext", "text"):
            if current.type == "longtext" or _looks_like_label(line) is None:
                out.raw[current.key] = f"{out.raw[current.key]}\n{line}".strip("\n")
                continue
        label = _looks_like_label(line.strip())
        if label is not None:
            out.errors.append(
                FieldError("", f"没有叫「{label}」的字段", f'there is no field called "{label}"')
            )
        else:
            short = line.strip()[:20]
            out.errors.append(
                FieldError(
                    "", f"第 {n} 行无法识别：{short}", f"line {n} is not understood: {short}"
                )
            )
    for key in list(out.raw):
        out.raw[key] = out.raw[key].strip()
    return out


# -- which duty does a phrase mean -------------------------------------------------------

_COMMAND_WORDS_ZH = (
    "我要",
    "我想",
    "我的",
    "我们的",
    "帮我",
    "请",
    "提交",
    "填报",
    "填写",
    "上交",
    "交",
    "写",
    "一下",
    "一份",
    "这周的",
    "本周的",
    "本月的",
    "的",
)
_STOP_WORDS_EN = frozenset(
    {
        "submit",
        "file",
        "a",
        "an",
        "the",
        "my",
        "our",
        "this",
        "report",
        "reports",
        "please",
        "i",
        "want",
        "to",
        "for",
        "of",
        "s",
        "new",
    }
)
_GENERIC_ZH = frozenset({"", "报告", "汇报", "报表", "一下"})


def strip_command(line: str) -> str:
    """The part of a command line that names the report: "提交执行报告" -> "执行报告"."""
    s = _label_key(line)
    s = re.sub(r"[\s,.!?;:，。！？；：]+", " ", s).strip()
    for word in _COMMAND_WORDS_ZH:
        s = s.replace(word, "")
    return s.strip()


def names_something(phrase: str) -> bool:
    """False for phrases that name no report in particular ("报告", "submit a report")."""
    phrase = _label_key(phrase)
    cjk = "".join(ch for ch in phrase if "\u3400" <= ch <= "\u9fff")
    if cjk and cjk not in _GENERIC_ZH:
        return True
    return any(w not in _STOP_WORDS_EN for w in re.findall(r"[a-z]+", phrase))


def _lcs(a: str, b: str) -> int:
    """Length of the longest common substring (short strings only)."""
    best = 0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0] * (len(b) + 1)
        for j, cb in enumerate(b, start=1):
            if ca == cb:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def duty_match_score(phrase: str, duty: Duty) -> int:
    """How well a phrase ("周报", "weekly", "执行报告") names a duty: 0 = not at all.

    Chinese: the longest run of characters shared with the duty's name (at least 2;
    "报告" alone names nothing in particular). English: shared words, ignoring
    "submit", "report" and the like."""
    phrase = _label_key(phrase)
    if not phrase:
        return 0
    cjk = "".join(ch for ch in phrase if "\u3400" <= ch <= "\u9fff")
    score = 0
    if cjk and cjk not in _GENERIC_ZH:
        name = _label_key(duty.name_zh)
        common = _lcs(cjk[:40], name)
        if common >= 2:
            score = common * 10
    words = {w for w in re.findall(r"[a-z]+", phrase) if w not in _STOP_WORDS_EN}
    if words:
        name_words = set(re.findall(r"[a-z]+", _label_key(duty.name_en)))
        name_words |= set(duty.key.replace(".", "_").split("_"))
        score += 10 * len(words & name_words)
    return score
