"""Report fields from listed contents, and KPI checks from stated thresholds.

"每周输出项目进度报告(含完成率、风险点、需支持事项)" -> three fields;
"活动到场率≥80%" -> a percent field and a KPI ``>= 0.8``;
"确保实际支出≤预算95%" -> two money fields and a KPI ``actual / budget <= 0.95``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.domain.policy_draft import naming

REPORT_WORDS = re.compile(
    r"报告|报表|周报|月报|季报|年报|日报|总结|方案|计划|规划|复盘|分析|汇总|清单|纪要|台账|统计|《|预算|"
    r"\breports?\b|\bsummar(?:y|ies)\b|\bplans?\b|\breviews?\b|\banalys[ie]s\b|\bminutes\b|"
    r"\bproposals?\b|\bbudgets?\b|\bforecasts?\b|\bretrospectives?\b|\bchecklists?\b|\bstatistics\b|\bstats\b",
    re.I,
)
_LIST_VERB = re.compile(
    r"(?:内容)?(?:需|须|应)?(?:包含|包括|含|涵盖|注明|列明|写明|说明|明确|整理|统计|记录|汇总|"
    r"列出|载明)\s*[:：]?|\b(?:including|includes|covering|covers|listing|stating|with)\b\s*:?",
    re.I,
)
_FIELD_TYPES = [
    (re.compile(r"率|占比|比例|百分比|\brate\b|\bratio\b|\bshare\b|\bmargin\b|%", re.I), "percent"),
    (
        re.compile(
            r"金额|费用|支出|预算|成本|收入|销售额|回款额|花费|开支|余额(?!表|调节)|利润(?!表)|营收|费$|\bamount\b|\bcost\b|"
            r"\bspend|\bbudget\b|\brevenue\b|\bexpenses?\b|\bbalance\b|\bprofit\b|\bcollections\b",
            re.I,
        ),
        "money",
    ),
    (
        re.compile(
            r"人数|数量|次数|件数|个数|单数|场次|[客户单件人次]数$|\bnumber of\b|\bcount\b|\bheadcount\b|"
            r"\b(?:deals|opportunities|leads|attendees|participants|visits|tickets|incidents)\b",
            re.I,
        ),
        "integer",
    ),
    (re.compile(r"时长|小时数|时效|天数|\bhours\b|\bdays\b", re.I), "number"),
    (re.compile(r"日期|\bdate\b", re.I), "date"),
]


@dataclass
class Field:
    key: str
    type: str
    label_zh: str
    label_en: str
    hint: str = ""
    unit: str = ""


@dataclass
class Kpi:
    key: str
    label_zh: str
    label_en: str
    numerator: str
    op: str
    threshold: float
    denominator: str = ""
    format: str = ""


@dataclass
class Contents:
    fields: list[Field] = field(default_factory=list)
    kpis: list[Kpi] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def field_for(self, label: str, en_doc: bool, hint: str = "") -> Field:
        label = label.strip()
        for f in self.fields:
            if f.label_zh == label or (en_doc and f.label_zh.lower() == label.lower()):
                return f
        if en_doc:
            label = label[:1].upper() + label[1:]
        en = label if en_doc else naming.translate(label)[0]
        key = naming.unique(naming.slug(label, 30), {f.key for f in self.fields}, 30)
        ftype = next((t for p, t in _FIELD_TYPES if p.search(label)), "longtext")
        f = Field(key, ftype, label, en[:1].upper() + en[1:] if en else label, hint)
        self.fields.append(f)
        return f


def _strip_parens(text: str) -> tuple[str, str]:
    """Text without "(如…)" asides, and the asides joined (they make good hints)."""
    asides = re.findall(r"[\(（\[［]([^()（）\[\]［］]*)[\)）\]］]", text)
    clean = re.sub(r"[\(（\[［][^()（）\[\]［］]*[\)）\]］]", "", text)
    return clean.strip(), "；".join(a.strip() for a in asides if a.strip())


_PARTICIPANTS = re.compile(
    r"(?:专员|经理|总监|主管|助理|人员|团队|部门?|小组|manager|director|lead|agent|team)$", re.I
)


def listed_items(text: str) -> list[tuple[str, str]]:
    """(label, hint) for the contents a report is said to hold, from every list in ``text``
    that belongs to a report: "进度报告(含A、B、C)", "整理A、B，形成《报告》",
    "a weekly report covering A, B and C". Lists of people ("参与人员含策划、客户关系专员")
    and lists in sentences that produce nothing are not contents."""
    if not REPORT_WORDS.search(text):
        return []
    found: list[tuple[str, str]] = []
    # "月度财务报表（资产负债表、利润表、现金流量表）": the brackets list what it holds
    for m in re.finditer(rf"(?:{REPORT_WORDS.pattern})[（(]([^()（）]{{4,80}})[)）]", text, re.I):
        inner = m.group(1).strip()
        if not _LIST_VERB.search(inner) and not re.match(r"如|例如|比如|e\.g", inner, re.I):
            items = _split_list(inner)
            if len(items) >= 2 and not any(_PARTICIPANTS.search(i[0]) for i in items):
                found += [i for i in items if all(i[0] != f[0] for f in found)]
    for m in _LIST_VERB.finditer(text):
        tail = text[m.end() :]
        # a list inside brackets ends at its closing bracket; otherwise at a clause break
        if re.search(
            r"(?:人员|参与|出席|参加|成员|participants|attendees)\s*$", text[: m.start()], re.I
        ):
            continue  # "参与人员含策划、数字营销": who takes part, not what is reported
        if m.start() > 0 and text[m.start() - 1] in "(（":
            before = text[max(0, m.start() - 9) : m.start() - 1]
            if not REPORT_WORDS.search(before):
                continue  # "品牌手册(含VI视觉…)": what a handbook holds, not a report
            depth, end = 1, len(tail)
            for i, ch in enumerate(tail):
                depth += ch in "(（[［"
                depth -= ch in ")）]］"
                if depth == 0:
                    end = i
                    break
            tail = tail[:end]
        else:
            tail = _cut_at_clause(tail)
        items = _split_list(tail)
        if len(items) < 2 or sum(bool(_PARTICIPANTS.search(i[0])) for i in items) * 2 >= len(items):
            continue
        found += [i for i in items if all(i[0] != f[0] for f in found)]
    return found


_OBJECT_VERB = re.compile(
    r"(?:^|[，,；;、])\s*(?:并|及时)?(?:分析|总结|形成|提出|说明|评估|列出|汇报|统计|整理|记录|标注)"
    r"([\u4e00-\u9fffA-Za-z]{2,12})"
)


def clause_objects(text: str) -> list[tuple[str, str]]:
    """ "分析核心指标达成情况(…)，总结经验教训(…)，形成优化建议" -> what each clause produces:
    the contents of a report whose text lists none."""
    clean = re.sub(r"[\(（\[［][^()（）\[\]［］]*[\)）\]］]", "", text)
    items: list[tuple[str, str]] = []
    for m in _OBJECT_VERB.finditer(clean):
        label = re.split(r"并|及|和|以便|以|后|供|给", m.group(1))[0]
        if len(label) < 2:
            continue
        if REPORT_WORDS.search(label[-2:]) and len(label) > 4 or _PARTICIPANTS.search(label):
            continue  # "形成《…报告》" names the report itself
        if all(label != i[0] for i in items):
            items.append((label, ""))
    return items if len(items) >= 2 else []


def _cut_at_clause(text: str) -> str:
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "(（[［"
        depth -= ch in ")）]］"
        if depth:
            continue
        nxt = text[i + 1 : i + 2]
        if ch in "，。；;！？：:" or (ch == "." and nxt in (" ", "")):
            return text[:i]
        if ch == ",":
            if re.match(r",\s*(?:and\s+)?[A-Za-z][\w -]{0,40}(?:,|\band\b|$)", text[i:]):
                continue  # "A, B and C" is one list
            return text[:i]
    return text


def _split_list(text: str) -> list[tuple[str, str]]:
    parts: list[str] = []
    depth, buf = 0, ""
    for ch in text:
        depth += ch in "(（[［"
        depth -= ch in ")）]］"
        if depth == 0 and ch in "、,，/":
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    # "A及B" / "A and B" at the end of the list
    last = re.split(r"及|以及|和|与|\band\b|\bor\b", parts[-1])
    if len(last) > 1 and len(parts) >= 1:
        parts = parts[:-1] + last
    items: list[tuple[str, str]] = []
    for p in parts:
        label, hint = _strip_parens(p)
        label = re.sub(r"^\s*(?:the|its|their|a|an)\s+", "", label, flags=re.I)
        label = label.strip(" 　:：等。.")
        label = re.sub(r"等[\u4e00-\u9fff]{0,3}$", "", label)
        if not label or len(label) > 24 or re.search(r"[，。；;]", label):
            continue
        if hint.startswith(("如", "例如", "e.g.", "eg")):
            hint = hint
        items.append((label, hint))
    return items


# ---------------------------------------------------------------------------------------
# KPI thresholds
# ---------------------------------------------------------------------------------------

_OPS = [
    (r"≥|>=|不低于|不少于|至少|达到|at least|no less than|not less than|minimum of", ">="),
    (r"高于|大于|超过|above|over|more than", ">"),
    (
        r"≤|<=|不超过|不高于|不多于|控制在|at most|no more than|not (?:to )?exceed|not more than|maximum of|within",
        "<=",
    ),
    (r"低于|小于|少于|below|under|less than", "<"),
]
_ZH_OPS = (
    "≥|>=|不低于|不少于|至少|达到|高于|大于|超过|≤|<=|不超过|不高于|不多于|控制在|低于|小于|少于"
)
_KPI_ZH = re.compile(
    r"([\u4e00-\u9fffA-Za-z]{2,12}?)\s*(?:需|须|应|要)?\s*("
    + _ZH_OPS
    + r")\s*(?:的)?\s*([\u4e00-\u9fff]{0,6}?)\s*(?:的)?\s*(\d+(?:\.\d+)?)\s*(%|小时|天|分钟|分|秒|人|次|个|通|篇|条|场|家|份|单|件|元|万元)?\s*(以上|以下|以内)?"
)
_KPI_EN = re.compile(
    r"\b([a-z][a-z -]{2,40}?)\s+(?:of|at|is|stays?|kept|must be|should be|to be|rate)?\s*"
    r"(at least|no less than|not less than|above|over|more than|at most|no more than|"
    r"not (?:to )?exceed|not more than|below|under|less than|within|>=|<=|≥|≤)\s*"
    r"(\d+(?:\.\d+)?)\s*(%|percent|hours?|days?|minutes?)?(?:\s+of\s+(?:the\s+)?([a-z]+))?",
    re.I,
)
_LEAD_METRIC = re.compile(
    r"^.*(?:确保|保证|要求|其中|统计|计算|控制在?|维持|保持|每个?月|每周|每季度?|每年|目标为?)"
)
_LEAD_WORD = re.compile(r"^(?:如|例如|使|将|把|并|且|需|须|应|要|的)+")


def _op(word: str, after: str | None) -> str:
    if after == "以上":
        return ">="
    if after in ("以下", "以内"):
        return "<="
    for pattern, op in _OPS:
        if re.fullmatch(pattern, word, re.I):
            return op
    return ">="


def thresholds(text: str, contents: Contents, en_doc: bool) -> None:
    """Add a field and a KPI for each threshold stated in ``text``."""
    for m in _KPI_ZH.finditer(text) if not en_doc else ():
        metric, word, denom, value, unit, after = m.groups()
        metric = _LEAD_WORD.sub("", _LEAD_METRIC.sub("", metric)).strip()
        if len(metric) < 2 or (unit in (None, "") and not denom and float(value) < 1):
            continue
        _add_kpi(
            contents, metric, _op(word, after), float(value), unit or "", denom, en_doc, m.group(0)
        )
    budget_limits(text, contents, en_doc)
    for m in _KPI_EN.finditer(text) if en_doc else ():
        metric, word, value, unit, denom = m.groups()
        metric = re.sub(
            r"^(?:e\.g\.|ensure|keep|with|a|an|the|and)\s+", "", metric.strip(), flags=re.I
        )
        metric = re.sub(r"^(?:the|a|an)\s+", "", metric, flags=re.I)
        if word.lower() == "within" and not (unit or "").startswith("%"):
            continue  # "within 4 hours" is a deadline, not a KPI
        unit = "%" if unit and unit.lower().startswith(("%", "percent")) else (unit or "")
        _add_kpi(
            contents, metric, _op(word, None), float(value), unit, denom or "", en_doc, m.group(0)
        )


# "培训费用（不得超过预算）", "活动支出不超出预算", "spend must not exceed the budget": the
# same check as "≤ 100% of budget", with a budget field to fill in
_BUDGET_ZH = re.compile(
    r"([\u4e00-\u9fff]{2,8}?)\s*[（(]?\s*(?:须|需|应|要|必须)?\s*(?:控制在|"
    r"(?:不得|不能|不可|不应|不要|严禁|禁止|不)?\s*(?:超过|超出|超支|高于|突破))\s*"
    r"(?:年度|项目|活动|培训|部门|批准的?|审批的?)?\s*预算(?:金额|额度)?(?:范围)?(?:内|以内|之内)?"
    r"(?!\s*的?\s*\d)"
)
_BUDGET_EN = re.compile(
    r"\b([a-z][a-z -]{2,30}?)\s+(?:must |should |shall |to |will )?(?:not exceed|not go over|"
    r"stays? within|kept within|be within|within|no more than|not be over|not be above)\s+"
    r"(?:the\s+|its\s+|their\s+)?(?:approved\s+|allocated\s+|agreed\s+)?budget\b(?!\s*\d)",
    re.I,
)
_SPEND = re.compile(r"费|支出|成本|花费|开支|金额|spend|cost|expens", re.I)


def budget_limits(text: str, c: Contents, en_doc: bool) -> None:
    """A spend that must stay within a budget, stated without a figure: spend / budget <= 100%."""
    for m in (_BUDGET_EN if en_doc else _BUDGET_ZH).finditer(text):
        metric = m.group(1).strip()
        if not en_doc:
            metric = _LEAD_WORD.sub("", _LEAD_METRIC.sub("", metric)).strip()
        else:
            metric = re.sub(r"^(?:ensure|keep|with|a|an|the|and|total)\s+", "", metric, flags=re.I)
        if len(metric) < 2 or not _SPEND.search(metric):
            metric = "Actual spend" if en_doc else "实际支出"
        if any(k.numerator == c.field_for(metric, en_doc).key for k in c.kpis):
            continue
        _add_kpi(c, metric, "<=", 100, "%", "Budget" if en_doc else "预算", en_doc, m.group(0))


def _add_kpi(c: Contents, metric: str, op: str, value: float, unit: str, denom: str | None,
             en_doc: bool, source: str) -> None:  # fmt: skip
    if any(k.label_zh == metric for k in c.kpis):
        return
    # "质检合格率（合格率不低于95%）": the threshold names the listed field for short
    metric = next(
        (f.label_zh for f in c.fields if len(metric) >= 2 and f.label_zh.endswith(metric)), metric
    )
    kpi: dict[str, Any]
    if denom and unit == "%":
        num = c.field_for(metric, en_doc)
        if num.type in ("percent", "longtext", "date"):
            num.type = (
                "money" if re.search(r"支出|费用|成本|spend|cost", metric, re.I) else "number"
            )
        den = c.field_for(denom, en_doc)
        if den.type in ("percent", "longtext", "date"):
            den.type = num.type
        kpi = {"numerator": num.key, "denominator": den.key, "format": "percent"}
        threshold = round(value / 100, 9)
    else:
        num = c.field_for(metric, en_doc)
        if unit == "%":
            num.type, threshold = "percent", round(value / 100, 9)
        else:
            counted = unit in ("人", "次", "个", "通", "篇", "条", "场", "家", "份", "单", "件")
            num.type = "integer" if counted else "number"
            num.unit = {"小时": "h", "天": "d", "分钟": "min", "分": "min", "秒": "s"}.get(
                unit, unit
            )
            threshold = value
        kpi = {"numerator": num.key, "format": "percent" if unit == "%" else "number"}
    ratio = bool(denom) and unit == "%"
    den_en = c.field_for(denom, en_doc).label_en.lower() if ratio and denom else ""
    of_zh = f"{denom}的" if ratio and not en_doc else ""
    of_en = f" of {den_en}" if ratio else ""
    label_zh = f"{metric} {op} {of_zh}{value:g}{unit}{of_en if en_doc else ''}"
    shown = "%" if unit == "%" else (" " + unit if unit else "")
    label_en = f"{num.label_en} {op} {value:g}{shown}{of_en}"
    if ratio and value == 100:  # "within budget": spend <= budget
        label_zh = f"{metric} {op} {den_en if en_doc else denom}"
        label_en = f"{num.label_en} {op} {den_en}"
    c.kpis.append(
        Kpi(
            key=naming.unique(num.key + "_target", {k.key for k in c.kpis}, 40),
            label_zh=label_zh,
            label_en=label_en,
            op=op,
            threshold=threshold,
            **kpi,
        )
    )
    c.notes.append(f"KPI from '{source.strip()}'")
