"""From the outline of a document to draft roles and duties (plain data, not yet TOML)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.domain.policy_draft import naming
from bot.domain.policy_draft.cadence import find_timings
from bot.domain.policy_draft.duty_names import clean_name, duty_name, key_en
from bot.domain.policy_draft.fields import (
    REPORT_WORDS,
    Contents,
    clause_objects,
    listed_items,
    thresholds,
)
from bot.domain.policy_draft.numbers import normalise
from bot.domain.policy_draft.structure import Outline, RoleSection
from bot.domain.policy_draft.triggers import DraftTrigger, draft_triggers

ROLE_KEY_MAX = 22
DUTY_KEY_MAX = 40


@dataclass
class DraftRole:
    key: str
    name_zh: str
    name_en: str
    reports_to: str = ""  # a role key, or "" (outside the department / unknown)
    reports_to_label: str = ""
    notes: list[str] = field(default_factory=list)
    described: bool = True
    rank: int = 9
    superior_text: str = ""
    key_en: str = ""  # the English its key is made from (no pinyin where possible)


@dataclass
class DraftDuty:
    key: str
    role: str
    name_zh: str
    name_en: str
    clause: str
    due: dict[str, Any]
    contents: Contents | None = None
    approver_role: str | None = None  # None: the role's reports_to (the default)
    notes: list[str] = field(default_factory=list)

    @property
    def inferred(self) -> bool:
        return bool(self.notes)


@dataclass
class Untimed:
    role: str
    clause: str
    kpis: Contents | None = None  # thresholds it states, for a report of the role


@dataclass
class Draft:
    title: str
    title_en: str
    en_doc: bool
    roles: list[DraftRole]
    duties: list[DraftDuty]
    untimed: list[Untimed]
    notes: list[str] = field(default_factory=list)
    triggers: list[DraftTrigger] = field(default_factory=list)  # what starts SLA duties
    approval_window: int | None = None  # working days; None: the format's default
    approval_notes: list[str] = field(default_factory=list)

    def review_items(self) -> list[str]:
        out = self.notes + self.approval_notes
        for r in self.roles:
            out += [f"role {r.key}: {n}" for n in r.notes]
        for d in self.duties:
            out += [f"duty {d.key}: {n}" for n in d.notes]
        out += [f"no time stated ({u.role}): {_short(u.clause)}" for u in self.untimed]
        return out


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


_RANKS = [
    (r"总经理|总裁|CEO|president|chief", 0),
    (r"总监|director|head|vp|部长", 1),
    (r"经理|manager|主任", 2),
    (r"主管|组长|班长|队长|supervisor|team lead|lead\b|leader", 3),
]


def _rank(name: str) -> int:
    for pattern, rank in _RANKS:
        if re.search(pattern, name, re.I):
            return rank
    return 4


# "向销售总监汇报", "负责承接市场总监战略部署", "直接上级：客服经理", "reports to the Sales Director"
_SUPERIOR = [
    re.compile(
        r"(?:直接上级|汇报对象|上级岗位|上级领导|上级|汇报关系|汇报给)\s*(?:为|是|[:：])\s*([^\s，。；,;、]{2,16})"
    ),
    re.compile(r"[向对]\s*([^\s，。；,;向对]{2,16}?)\s*(?:直接)?(?:汇报|报告|述职|负责)(?!人)"),
    re.compile(r"承接\s*([^\s，。；,;]{2,16}?)\s*(?:的)?(?:战略|工作|部署|安排|任务|要求)"),
    re.compile(r"在\s*([^\s，。；,;]{2,16}?)\s*(?:的)?(?:领导|指导|带领|管理)下"),
    re.compile(r"(?:受|由)\s*([^\s，。；,;]{2,16}?)\s*(?:直接)?(?:领导|管理)"),
    re.compile(r"隶属于\s*([^\s，。；,;]{2,16})"),
    re.compile(
        r"\b(?:reporting line|line manager|direct manager|manager|supervisor)\s*:\s*(?:the\s+)?"
        r"([A-Za-z][A-Za-z &-]{1,40}?)(?=[,.;()]|$)",
        re.I,
    ),
    re.compile(
        r"\breport(?:s|ing)?\s+(?:directly\s+)?to\s*:?\s*(?:the\s+)?([A-Za-z][A-Za-z &-]{1,40}?)(?=[,.;()]|\s+(?:and|on|for|who|with|about)\b|$)",
        re.I,
    ),
    re.compile(
        r"\bunder the (?:direction|supervision|leadership) of (?:the\s+)?([A-Za-z][A-Za-z &-]{1,40}?)(?=[,.;()]|$)",
        re.I,
    ),
]
_APPROVER = [
    re.compile(
        r"(?:提交|报送|报|呈报|上报|交|提交给|提交至|提交予|报给)\s*(?:给|至|予)?\s*([^\s，。；,;、]{2,12}?)\s*(?:审批|审核|批准|确认|备案|审阅|$|[，。；,;])"
    ),
    re.compile(r"经\s*([^\s，。；,;、]{2,12}?)\s*(?:审批|审核|批准|确认|同意)"),
    re.compile(r"[向给]\s*([^\s，。；,;、]{2,12}?)\s*(?:提交|报送|上报|呈报|汇报|递交)"),
    re.compile(
        r"\b(?:submit(?:ted)?|send|sent|report(?:ed)?)\b[^.;]{0,40}?\bto\s+(?:the\s+)?([A-Za-z][A-Za-z &-]{1,40}?)(?=[,.;()]|\s+(?:for|by|on|within|before|every|each)\b|$)",
        re.I,
    ),
    re.compile(r"\bapproved by\s+(?:the\s+)?([A-Za-z][A-Za-z &-]{1,40}?)(?=[,.;()]|\s|$)", re.I),
]
_OUTSIDE = re.compile(
    r"管理层|总经理|总裁|董事|公司|领导|分管|副总|高管|management|ceo|coo|cfo|board|executive|president|vp|general manager",
    re.I,
)
_SENTENCE_END = re.compile(r"(?<=[。；;！？!?])|(?<=\.)\s+(?=[A-Z(\"“])")


def sentences(text: str) -> list[str]:
    """Split on sentence ends that are not inside brackets."""
    out, buf, depth = [], "", 0
    i = 0
    while i < len(text):
        ch = text[i]
        buf += ch
        depth += ch in "(（[［"
        depth = max(0, depth - (ch in ")）]］"))
        end = ch in "。；;！？!?" or (ch == "." and (i + 1 == len(text) or text[i + 1] == " "))
        if end and depth == 0:
            if buf.strip():
                out.append(buf.strip())
            buf = ""
        i += 1
    if buf.strip():
        out.append(buf.strip())
    return out


def match_role(text: str, roles: list[DraftRole], exclude: str = "") -> DraftRole | None:
    t = text.strip().lower().removeprefix("the ").strip()
    best: DraftRole | None = None
    for r in roles:
        if r.key == exclude:
            continue
        names = [r.name_zh.lower(), r.name_en.lower()] if r.name_en else [r.name_zh.lower()]
        for n in names:
            if n and (t == n or t.startswith(n) or (len(t) >= 2 and n.endswith(t))):
                if best is None or len(n) > len(best.name_zh):
                    best = r
    return best


def build(outline: Outline) -> Draft:
    all_text = " ".join(r.name_zh for r in outline.roles) + outline.title
    en_doc = not naming.has_cjk(all_text)
    roles = [_role(sec) for sec in outline.roles]
    _assign_role_keys(roles)
    _link_superiors(outline, roles)
    duties: list[DraftDuty] = []
    untimed: list[Untimed] = []
    duty_keys: set[str] = set()
    for sec, role in zip(outline.roles, roles, strict=True):
        for text in sec.intro:
            for s in sentences(text):
                found = _duties_from_sentence(s, "", role, roles, en_doc, duty_keys, single=False)
                duties += found
                kpis = Contents()
                if not found:  # "考核指标：一次解决率不低于85%": a standard of the role
                    thresholds(normalise(s), kpis, en_doc)
                if kpis.kpis:
                    note = "  [KPI: " + "; ".join(k.label_zh for k in kpis.kpis) + "]"
                    untimed.append(Untimed(role.key, s + note, kpis))
        for item in sec.items:
            title, body = _title(item.text)
            if not body:
                continue
            sents = sentences(body)
            timed = [(s, find_timings(normalise(s))) for s in sents]
            n_timings = sum(len(t) for _, t in timed)
            short = len(title or body) <= 12 and len(sents) == 1 and not title
            if not n_timings and short and not re.search(r"\d", body):
                continue  # a sub-heading ("Duties", "日常工作"), not a standard ("回款率≥95%")
            item_duties: list[DraftDuty] = []
            for k, (s, tims) in enumerate(timed):
                clause = f"{title}：{s}" if title and k == 0 and not en_doc else s
                if title and k == 0 and en_doc:
                    clause = f"{title}: {s}"
                if tims:
                    item_duties += _duties_from_sentence(
                        s,
                        title,
                        role,
                        roles,
                        en_doc,
                        duty_keys,
                        single=n_timings == 1,
                        clause=clause,
                    )
            for k, (s, tims) in enumerate(timed):
                clause = f"{title}：{s}" if title and k == 0 and not en_doc else s
                if tims:
                    continue
                if item_duties and _attach_kpis(s, item_duties[-1], en_doc):
                    item_duties[-1].clause += " " + s
                    continue
                if len(normalise(s)) >= 6:
                    kpis = Contents()
                    thresholds(normalise(s), kpis, en_doc)
                    if kpis.kpis:  # worth keeping when a due rule is added by hand
                        clause += "  [KPI: " + "; ".join(k.label_zh for k in kpis.kpis) + "]"
                    untimed.append(Untimed(role.key, clause, kpis if kpis.kpis else None))
            duties += item_duties
    if not en_doc:
        title_en, complete = naming.translate(outline.title)
    else:
        title_en, complete = outline.title, True
    draft = Draft(outline.title, title_en, en_doc, roles, duties, untimed)
    draft.untimed = [u for u in untimed if not _kpis_to_report(u, duties)]
    draft.duties = _approval_deadlines(draft)
    draft.triggers = draft_triggers(draft.duties)
    if not complete:
        draft.notes.append("policy name_en is partly pinyin: translate it")
    return draft


def _kpis_to_report(u: Untimed, duties: list[DraftDuty]) -> bool:
    """A standard stated apart from the duties ("考核标准：回款率达到95%以上") joins the role's
    duty about the same thing (上月回款情况): True if every threshold found one."""
    if u.kpis is None:
        return False
    targets = []
    for k in u.kpis.kpis:
        label = next(f for f in u.kpis.fields if f.key == k.numerator).label_zh
        stem = re.sub(r"(?:率|额|数|量|\s+rate|\s+ratio)$", "", label.lower()).strip()
        found = [
            d
            for d in duties
            if d.role == u.role
            and d.due["kind"] != "sla"
            and len(stem) >= 2
            and stem in f"{d.name_zh} {d.name_en}".lower()
        ]
        if len(found) != 1:
            return False
        targets.append((k, found[0]))
    for k, d in targets:
        if d.contents is None:
            d.contents = Contents()
        d.contents.fields = [f for f in d.contents.fields if f.key != "summary"]
        for f in u.kpis.fields:
            if f.key in (k.numerator, k.denominator) and all(
                f.key != g.key for g in d.contents.fields
            ):
                d.contents.fields.append(f)
        d.contents.kpis.append(k)
        d.notes.append(f"KPI '{k.label_zh}' taken from '{_short(u.clause.split('  [KPI')[0], 30)}'")
    return True


# "审批招聘专员…提交的各项报告，收到后2个工作日内完成审批": approving the department's reports
# is DutyBot's approval flow, and its deadline is [policy] approval_window_workdays (the
# approver is asked again, then their manager told), not a duty started from chat
_APPROVES = re.compile(r"审批|审核|批复|审阅|批准|\bapprov|\bsign[- ]off", re.I)
_OF_REPORTS = re.compile(
    r"报告|报表|周报|月报|季报|年报|总结|计划|方案|\breports?\b|\bplans?\b|\bsummar", re.I
)
_WORKDAYS = re.compile(r"(\d{1,2})\s*个?工作日|(\d{1,2})\s+(?:working|business)\s+days?", re.I)


def _approval_deadlines(draft: Draft) -> list[DraftDuty]:
    """The duties left once approval deadlines are taken out as the approval window."""
    windows: list[int] = []
    by_key = {r.key: r for r in draft.roles}
    approving: set[str] = set()  # clauses; "approve the weekly reports …" drafts no weekly duty
    for d in draft.duties:
        text = normalise(d.clause)
        if not (d.due["kind"] == "sla" and _APPROVES.search(text) and _OF_REPORTS.search(text)):
            continue
        if d.clause in approving:
            continue
        approving.add(d.clause)
        m = _WORKDAYS.search(text)
        days = int(m.group(1) or m.group(2)) if m else -(-int(d.due["hours"]) // 24)
        days = min(max(days, 1), 60)
        windows.append(days)
        how = "" if m else f" ({d.due['hours']:g} hours read as {days} working day(s))"
        draft.approval_notes.append(
            f"role {d.role}: '{_short(d.clause, 40)}' drafted as approval_window_workdays = "
            f"{days}{how}: a report waiting that long is sent to the approver again, then "
            "their manager is told; no duty of its own"
        )
        approver = by_key.get(d.role)
        if approver is not None:
            _confirm_approver(draft, approver, text)
    if windows:
        draft.approval_window = min(windows)
        if len(set(windows)) > 1:
            draft.approval_notes.append(
                f"approval deadlines differ ({sorted(set(windows))} working days): the "
                "shortest is the policy's approval window"
            )
    return [d for d in draft.duties if d.clause not in approving]


def _confirm_approver(draft: Draft, approver: DraftRole, text: str) -> None:
    """Roles the approval sentence names ("审批招聘专员、培训专员提交的…") report to the
    approver: what was guessed from the job titles is now stated."""
    for r in draft.roles:
        names = [r.name_zh, r.name_en] if r.name_en else [r.name_zh]
        if r is approver or not any(n and n.lower() in text.lower() for n in names):
            continue
        guessed = [n for n in r.notes if n.startswith("reports_to '")]
        if r.reports_to and not guessed and r.reports_to != approver.key:
            continue  # stated elsewhere: leave it
        r.reports_to = approver.key
        r.notes = [n for n in r.notes if n not in guessed]
        for d in draft.duties:
            if d.role == r.key and d.approver_role is None:
                d.notes = [n for n in d.notes if not n.startswith("approver")]


def _role(sec: RoleSection) -> DraftRole:
    notes: list[str] = []
    name_en = sec.name_en
    if not name_en:
        name_en, complete = naming.translate(sec.name_zh)
        if not complete:
            notes.append(f"name_en '{name_en}' is partly pinyin: translate it")
    key = ""  # assigned once every role's name is known
    if not sec.described:
        notes.append("named in the overview but never described: no duties drafted")
    return DraftRole(key, sec.name_zh, name_en, notes=notes, described=sec.described,
                     rank=_rank(sec.name_zh + " " + name_en),
                     key_en=sec.name_en or naming.key_text(sec.name_zh))  # fmt: skip


_SHORT = {"representative": "rep", "administrator": "admin", "department": "dept"}
_GENERIC = ("specialist", "officer", "staff", "and", "of", "the")


def _assign_role_keys(roles: list[DraftRole]) -> None:
    """Keys from English names, without the department word most of them start with:
    销售总监 / 销售经理 / 销售代表 -> director / manager / rep."""
    firsts = [naming.slug(r.key_en, 80).split("_")[0] for r in roles]
    common = max(set(firsts), key=firsts.count) if firsts else ""
    shared = firsts.count(common)
    drop = common if shared >= 2 and (shared * 2 >= len(roles) or shared >= 3) else ""
    taken: set[str] = set()
    for r in roles:
        words = naming.slug(r.key_en, 80).split("_")
        if drop and len(words) > 1 and words[0] == drop:
            words = words[1:]
        r.key = naming.unique(_role_key(" ".join(words), taken), taken, ROLE_KEY_MAX)


def _role_key(name_en: str, taken: set[str]) -> str:
    """Short and readable: "Customer Service Supervisor" -> "service_supervisor"."""
    words = [_SHORT.get(w, w) for w in naming.slug(name_en, 80).split("_")]
    specific = [w for w in words if w not in _GENERIC] or words
    cands = ["_".join(specific), "_".join(words)]
    cands += ["_".join(specific[i:]) for i in range(1, len(specific))]
    for cand in cands:
        if len(cand) <= ROLE_KEY_MAX and cand not in taken:
            return cand
    return naming.slug("_".join(specific), ROLE_KEY_MAX)


def _link_superiors(outline: Outline, roles: list[DraftRole]) -> None:
    for sec, role in zip(outline.roles, roles, strict=True):
        texts = list(sec.intro) + [sec.heading] + [i.text for i in sec.items]
        for text in texts:
            for pattern in _SUPERIOR:
                for m in pattern.finditer(text):
                    cand = m.group(1).strip()
                    boss = match_role(cand, roles, exclude=role.key)
                    if boss:
                        role.reports_to = boss.key
                        break
                    explicit = pattern in _SUPERIOR[:2] or "report" in pattern.pattern
                    if (explicit or _OUTSIDE.search(cand)) and not role.reports_to_label:
                        role.reports_to_label = cand.strip("*_ ")
                if role.reports_to:
                    break
            if role.reports_to:
                break
    for role in roles:  # the rest: the nearest role of a higher rank
        if role.reports_to or role.reports_to_label:
            continue
        higher = [r for r in roles if r.rank < role.rank and r is not role]
        if not higher:
            continue
        top = max(r.rank for r in higher)
        boss = next(r for r in higher if r.rank == top)
        role.reports_to = boss.key
        role.notes.append(f"reports_to '{boss.name_zh}' guessed from the job titles")
    _break_cycles(roles)


def _break_cycles(roles: list[DraftRole]) -> None:
    by_key = {r.key: r for r in roles}
    for role in roles:
        seen = {role.key}
        cur = by_key.get(role.reports_to)
        while cur is not None:
            if cur.key in seen:
                role.notes.append(f"reports_to '{role.reports_to}' made a cycle: cleared")
                role.reports_to = ""
                break
            seen.add(cur.key)
            cur = by_key.get(cur.reports_to)


def _attach_kpis(sentence: str, duty: DraftDuty, en_doc: bool) -> bool:
    """A threshold stated in its own sentence ("CSAT of at least 90%.") joins the duty."""
    found = Contents()
    thresholds(normalise(sentence), found, en_doc)
    if not found.kpis:
        return False
    if duty.contents is None:
        duty.contents = Contents()
        duty.notes.append("approver taken from the hierarchy (the role it reports to)")
    for f in found.fields:
        same = [g for g in duty.contents.fields if g.key == f.key]
        if not same:
            duty.contents.fields.append(f)
        elif same[0].type in ("longtext", "text"):  # "Uptime must be at least 99.5%."
            same[0].type, same[0].unit = f.type, f.unit
    duty.contents.kpis += [k for k in found.kpis if all(k.key != o.key for o in duty.contents.kpis)]
    return True


# "方案审批" approves someone else's report: done by clicking, not by reporting
_APPROVING = re.compile(
    r"(?:审批|审核|批准|approval|approve|sign-off)$|^(?:审批|审核|审阅|复核|批准)|^(?:approve|review|sign off)\b",
    re.I,
)

_NEXT = {
    "monthly": re.compile(r"下[一1]?个?月|next month|following month|coming month", re.I),
    "quarterly": re.compile(r"下[一1]?个?季度|next quarter|following quarter|coming quarter", re.I),
    "yearly": re.compile(r"下[一1]?个?年度?|明年|次年|next year|following year|coming year", re.I),
}
_PREVIOUS = {
    "monthly": re.compile(r"上个?月|上月度|last month|previous month|prior month", re.I),
    "quarterly": re.compile(r"上[一1]?个?季度|last quarter|previous quarter", re.I),
    "yearly": re.compile(r"上[一1]?年度?|去年|last year|previous year", re.I),
}


def _title(text: str) -> tuple[str, str]:
    m = re.match(r"^([^:：，。,;；(（]{2,24}?)\s*(?<!\d)[:：](?!\d)\s*(.+)$", text)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return "", text.strip()


def _duties_from_sentence(sentence: str, title: str, role: DraftRole, roles: list[DraftRole],
                          en_doc: bool, keys: set[str], single: bool,
                          clause: str = "") -> list[DraftDuty]:  # fmt: skip
    norm = normalise(sentence)
    timings = find_timings(norm)
    out: list[DraftDuty] = []
    for i, t in enumerate(timings):
        book = re.search(r"《([^》]{2,30})》", norm)
        if book:
            name = book.group(1)
        elif single and title:
            name = title
        else:
            since = (timings[i - 1].end if i else 0) if len(timings) > 1 else None
            name = t.name or duty_name(norm, t, title, en_doc, since)
            if not en_doc and len(name) <= 2 and t is not timings[0]:
                # "故障须在15分钟内响应，4小时内恢复": the second duty has the same subject
                subject = clean_name(norm[: timings[0].start], en_doc)
                name = subject + name if len(subject) >= 2 else name
        name_en, notes = name, list(t.notes)
        if not en_doc:
            name_en, complete = naming.translate(name)
            if not complete:
                notes.append(f"name_en '{name_en}' is partly pinyin: translate it")
        name_en = name_en[:1].upper() + name_en[1:]
        key = naming.unique(
            f"{role.key}.{naming.slug(key_en(name_en) if en_doc else name, DUTY_KEY_MAX - len(role.key) - 1)}",
            keys,
            DUTY_KEY_MAX,
        )
        duty = DraftDuty(key, role.key, name, name_en, clause or sentence, dict(t.due), notes=notes)
        # which period the task is about, from what follows the time: "编制下一年度销售计划"
        after = norm[t.end :]
        prev, nxt = _PREVIOUS.get(t.kind), _NEXT.get(t.kind)
        if not duty.due.get("before_start") and "covers" not in duty.due:
            if prev and prev.search(after):
                duty.due["covers"] = "previous"
            elif nxt and nxt.search(after):
                duty.due["covers"] = "next"
        shared = len(timings) > 1 and not REPORT_WORDS.search(name)
        if not shared and not _APPROVING.search(name):
            _report(duty, norm, role, roles, en_doc)
        out.append(duty)
    return out


def _report(
    duty: DraftDuty, norm: str, role: DraftRole, roles: list[DraftRole], en_doc: bool
) -> None:
    contents = Contents()
    for label, hint in listed_items(norm) or clause_objects(norm):
        contents.field_for(label, en_doc, hint)
    thresholds(norm, contents, en_doc)
    is_report = bool(contents.fields) or bool(REPORT_WORDS.search(duty.name_zh + " " + norm))
    if duty.due["kind"] == "sla" and (
        not contents.fields or len(contents.fields) == len(contents.kpis)
    ):
        # an answer within N hours is done, not reported; a rate stated with it
        # ("当天解决率不低于90%") is checked in a periodic report, not on every request
        for k in contents.kpis:
            duty.notes.append(f"KPI '{k.label_zh}' is not checked per request: add it to a report")
        is_report = False
    if not is_report:
        return
    if not contents.fields:
        contents.field_for("内容" if not en_doc else "Summary", en_doc)
        contents.fields[0].label_en = "Summary"
        contents.fields[0].key = "summary"
        duty.notes.append("report fields not listed: one free-text field drafted")
    if contents.notes:
        pass
    duty.contents = contents
    day = duty.due.get("before_day") or duty.due.get("day") or 0
    if duty.due["kind"] == "monthly" and 0 < day <= 15:  # "by the 5th": on last month
        if re.search(r"报告|月报|报表|总结|report|summary", duty.name_zh + norm, re.I):
            duty.due.setdefault("covers", "previous")
    approver = None
    for pattern in _APPROVER:
        for m in pattern.finditer(norm):
            cand = m.group(1).strip()
            boss = match_role(cand, roles, exclude=role.key)
            if boss:
                approver = boss.key
                break
            if _OUTSIDE.search(cand):
                approver = ""
                if not role.reports_to and not role.reports_to_label:
                    role.reports_to_label = cand  # "每月5日前向总经理提交…": its superior
                break
        if approver is not None:
            break
    if approver is None:
        if role.reports_to:
            duty.notes.append("approver taken from the hierarchy (the role it reports to)")
        elif not role.reports_to_label:  # a stated superior outside approves: not a guess
            duty.notes.append("approver: outside the department (no superior role found)")
    else:
        duty.approver_role = approver  # stated in the text, even when it is the default
