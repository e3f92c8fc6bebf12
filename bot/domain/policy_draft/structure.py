"""The shape of a role-duty document: its title, the roles it names, each role's section.

Documents number their parts in many ways ("一、", "(一)", "1.", "(1)", "①", "-", Markdown
or Word headings, "Role: ..."). A role heading is a short line that names a job title
("市场经理", "Sales Director (销售总监)", "岗位名称：客服主管"); the numbering depth of the
first role headings is the role level, and numbered lines below it are the role's duties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.policy_draft.numbers import normalise
from bot.domain.policy_draft.reader import Block

_CN_DIGITS = "一二三四五六七八九十"
# (pattern, depth): smaller depth = higher in the outline
# Legal-style documents nest 章 > 节 > 条 > （一） > 1.; others start at "一、".
_MARKERS: list[tuple[re.Pattern, float]] = [
    (re.compile(rf"^第[{_CN_DIGITS}百零\d]+(?:章|部分|篇)\s*[、:：.]?\s*"), 1),
    (re.compile(rf"^第[{_CN_DIGITS}百零\d]+节\s*[、:：.]?\s*"), 1.2),
    (re.compile(rf"^第[{_CN_DIGITS}百零\d]+条\s*[、:：.]?\s*"), 1.5),
    (re.compile(rf"^[{_CN_DIGITS}]+\s*[、.．]\s*"), 2),
    (re.compile(rf"^[\(（]\s*[{_CN_DIGITS}]+\s*[\)）]\s*[、.．]?\s*"), 3),
    (re.compile(r"^(?:(?:role|position|岗位|职位)\s*)?\d+\s*[\.．、:：](?!\d)\s*", re.I), 4),
    (re.compile(r"^\d+\s*[\)）]\s*"), 5),
    (re.compile(r"^[\(（]\s*\d+\s*[\)）]\s*|^[①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]\s*"), 6),
    (re.compile(r"^[a-z]\s*[\.\)]\s+|^[\(（][a-z][\)）]\s*", re.I), 7),
    (re.compile(r"^[-•·*▪◦●○■□]\s*"), 8),
]
_TITLE_ZH = (
    "总经理|副总经理|总裁|副总裁|总监|副总监|经理|副经理|主管|专员|助理|组长|主任|负责人|"
    "工程师|顾问|代表|文员|会计|出纳|秘书|督导|培训师|分析师|设计师|策划师|班长|队长|坐席|"
    "客服|店长|管理员|干事|讲师|编辑|文案|采购员|业务员|销售员|审计师|HRBP|BP|"
    "前台|前台接待|接待员|司机|保安|保洁员?|库管员?|仓管员?|质检员|操作员|技术员|调度员?|网管|"
    "架构师|测试员|律师|稽核员?|核算员?|统计员|收银员?|导购|店员|值班员"
)
_TITLE_EN = (
    "director|manager|lead|leader|head|specialist|officer|coordinator|representative|rep|"
    "agent|assistant|analyst|engineer|supervisor|executive|associate|administrator|partner|"
    "consultant|accountant|clerk|designer|planner|recruiter|advisor|adviser|coach|trainer|"
    "vp|president|chief|owner|generalist|controller|strategist|writer|editor|cashier|"
    "secretary|receptionist|buyer|auditor|marketer|salesperson|technician|developer|"
    "operator|architect|tester|programmer|driver|nurse|scientist|steward|inspector"
)
_ROLE_END_ZH = re.compile(rf"(?:{_TITLE_ZH})$")
_ROLE_END_EN = re.compile(
    rf"\b(?:{_TITLE_EN})s?$|^(?:head|director|vp|vice president|chief|manager|lead) of \w", re.I
)
_NOT_ROLE = re.compile(r"(?:人员|成员|全员|员工|职责|制度|规定|办法|细则|说明书?|总则|附则)$")
# "Reports to the Sales Manager", "协助销售经理": about a role, not a role
_NOT_ROLE_START = re.compile(
    r"^(?:reports?\b|reporting\b|under\b|works with\b|supports\b|assists\b|向|对|直接上级|"
    r"上级|汇报|协助|负责|在|由|受|配合|支持)",
    re.I,
)
_STRIP_HEAD = re.compile(
    r"^(?:岗位名称|岗位说明书|岗位|职位名称|职位描述|职位|角色|role|position|job title|"
    r"job description|jd|title)\s*[:：]\s*",
    re.I,
)
_STRIP_TAIL = re.compile(
    r"\s*(?:的?(?:主要|核心|工作)?(?:岗位)?职责(?:与权限|说明|描述)?|岗位说明书?|岗位|岗|"
    r"(?:key\s+)?(?:responsibilities|duties|job description|role description)|role)\s*$",
    re.I,
)
_PAREN = re.compile(r"\s*[\(（]([^()（）]{1,60})[\)）]\s*")
_BRACKETS = re.compile(r"^[【\[〔「『《](.+?)[】\]〕」』》]$")
_SENTENCE_PUNCT = re.compile(r"[。，；;！？!?]|,\s|\.\s")


@dataclass
class Item:
    """A numbered paragraph inside a role's section: normally one duty."""

    text: str
    depth: float


@dataclass
class RoleSection:
    name_zh: str
    name_en: str = ""
    heading: str = ""
    intro: list[str] = field(default_factory=list)  # un-numbered paragraphs
    items: list[Item] = field(default_factory=list)
    described: bool = False  # has a section of its own (not only named in an overview)


@dataclass
class Outline:
    title: str
    roles: list[RoleSection]
    overview: list[str]  # role names listed in an overview sentence


def split_marker(text: str) -> tuple[float, str]:
    """(depth, text without its numbering); depth 0 = not numbered."""
    for pattern, depth in _MARKERS:
        m = pattern.match(text)
        if m and m.end() < len(text):
            return depth, text[m.end() :].strip()
    return 0, text


def role_name(text: str) -> tuple[str, str] | None:
    """(name as written, English name if given) when ``text`` names a role, else None."""
    t = text.strip().rstrip(":：").strip()
    t = _STRIP_HEAD.sub("", t)
    t = _STRIP_TAIL.sub("", t).strip(" -—–:：")
    m = _BRACKETS.match(t)
    if m:
        t = _STRIP_TAIL.sub("", m.group(1).strip()).strip(" -—–:：")
    alt = ""
    pm = _PAREN.search(t)
    if pm:
        alt = pm.group(1).strip()
        t = (t[: pm.start()] + " " + t[pm.end() :]).strip()
    parts = re.split(
        r"\s+(?:/|\||—|–)\s+|\s*/\s*(?=[\u4e00-\u9fff])|(?<=[\u4e00-\u9fff])\s*/\s*", t
    )
    if len(parts) == 2 and not alt:
        t, alt = parts[0].strip(), parts[1].strip()
    if not t or _SENTENCE_PUNCT.search(t) or _NOT_ROLE.search(t) or _NOT_ROLE_START.match(t):
        return None
    zh_like = bool(re.search(r"[\u4e00-\u9fff]", t))
    if zh_like:
        if len(t) > 16 or not _ROLE_END_ZH.search(t.replace(" ", "")):
            return None
    elif len(t.split()) > 6 or not _ROLE_END_EN.search(t):
        return None
    if alt and _SENTENCE_PUNCT.search(alt):
        alt = ""
    zh, en = t, ""
    if alt:
        if zh_like and not re.search(r"[\u4e00-\u9fff]", alt):
            en = alt
        elif not zh_like and re.search(r"[\u4e00-\u9fff]", alt):
            zh, en = alt, t
    if not zh_like and not en:
        en = t
    return zh.replace(" ", "") if zh_like else zh, en


def _head_and_rest(text: str) -> tuple[str, str]:
    m = re.match(r"^(.{2,40}?)\s*(?<!\d)[:：](?!\d)\s*(.+)$", text)
    return (m.group(1), m.group(2)) if m else (text, "")


_OVERVIEW_VERB = re.compile(
    r"(?:设置|设立|下设|包括|包含|分为|设有|共设|设|consists? of|includes?|comprises?|roles? are)",
    re.I,
)


def overview_roles(text: str) -> list[str]:
    """Role names listed in a sentence such as "设置市场总监、市场经理…7个核心岗位"."""
    best: list[str] = []
    for m in _OVERVIEW_VERB.finditer(text):
        tail = text[m.end() :]
        tail = re.split(r"[。；;]|(?:等)?\s*\d+\s*个|等(?:岗位|职位)|\.\s", tail)[0]
        names: list[str] = []
        for token in re.split(r"[、，,]|\band\b|以及|及|和|与", tail):
            token = re.sub(r"^.*" + _OVERVIEW_VERB.pattern, "", token.strip(), flags=re.I)
            token = re.sub(r"^\s*(?:the|共|了|:|：)\s*", "", token.strip(), flags=re.I)
            token = token.strip(" .。;；")
            found = role_name(token)
            if found and found[0] not in names:
                names.append(found[0])
        if len(names) > len(best):
            best = names
    return best if len(best) >= 2 else []


def expand_rows(blocks: list[Block]) -> list[Block]:
    """Table rows as lines: a row naming a role becomes its heading ("岗位 | 职责" tables),
    an English name in another cell joins it, every other cell line follows."""
    out: list[Block] = []
    for b in blocks:
        if not b.row:
            out.append(b)
            continue
        role: tuple[str, str] | None = None
        rest: list[str] = []
        for cell in b.row:
            lines = [x.strip() for x in cell.split("\n") if x.strip()]
            if not lines:
                continue
            found = role_name(lines[0])
            if found and role is None:
                role, lines = found, lines[1:]
            elif found and role and not role[1] and found[0] != role[0]:
                role, lines = (role[0], found[1] or found[0]), lines[1:]
            rest += lines
        if role is not None:
            zh, en = role
            out.append(Block(f"{zh}（{en}）" if en and en != zh else zh))
        out += [Block(x) for x in rest]
    return out


def outline(blocks: list[Block]) -> Outline:
    blocks = expand_rows(blocks)
    title = ""
    for b in blocks:
        depth, text = split_marker(b.text)
        if not role_name(text):
            title = text if len(text) <= 60 else text[:60]
            break
    # 1. role heading candidates and their depth (headings count as depth -1..-6)
    cands: list[tuple[int, float, str, str, str]] = []  # (index, depth, zh, en, rest)
    overview: list[str] = []
    for i, b in enumerate(blocks):
        depth, text = split_marker(b.text)
        if b.heading:
            depth = b.heading - 10
        found = role_name(text)
        rest = ""
        if not found:
            head, rest = _head_and_rest(text)
            found = role_name(head) if rest else None
        if found:
            cands.append((i, depth, found[0], found[1], rest))
        elif not overview:
            overview = overview_roles(normalise(text))
    if not cands:
        return Outline(title, [RoleSection(n) for n in overview], overview)
    counts: dict[float, int] = {}
    for _, d, *_ in cands:
        counts[d] = counts.get(d, 0) + 1
    role_depth = min(counts, key=lambda d: (-counts[d] if counts[d] > 1 else 0, d))
    heads = {i: c for i, c in ((c[0], c) for c in cands) if c[1] == role_depth}

    sections: dict[str, RoleSection] = {}
    order: list[str] = list(overview)
    current: RoleSection | None = None
    for i, b in enumerate(blocks):
        depth, text = split_marker(b.text)
        if b.heading:
            depth = b.heading - 10
        if i in heads:
            _, _, zh, en, rest = heads[i]
            current = sections.get(zh) or RoleSection(zh)
            sections[zh] = current
            current.described = True
            current.heading = b.text
            current.name_en = current.name_en or en
            if zh not in order:
                order.append(zh)
            if rest:
                current.intro.append(rest)
            continue
        if current is None:
            continue
        if depth and _shallower(depth, role_depth) or (depth == role_depth and depth):
            current = None  # a new chapter ("二、考核与奖惩") ends the role sections
            continue
        if depth and depth != role_depth:
            current.items.append(Item(text, depth))
        else:
            current.intro.append(text)
    for sec in sections.values():
        if not sec.items and len(sec.intro) > 1:
            # duties written as plain paragraphs: all but the first (the role's summary)
            rest = sec.intro[1:]
            sec.items = [Item(t, 0) for t in rest if not _META.match(t)]
            sec.intro = sec.intro[:1] + [t for t in rest if _META.match(t)]
    roles = [sections.get(n) or RoleSection(n) for n in order]
    return Outline(title, roles, overview)


_META = re.compile(
    r"^(?:直接上级|上级|汇报对象|汇报关系|下级|岗位职责|主要职责|职责|岗位概述|岗位目的|任职资格|"
    r"reports? to|reporting to|responsibilities|duties|summary|purpose)\s*[:：]?\s*",
    re.I,
)


def _shallower(depth: float, role_depth: float) -> bool:
    return depth < role_depth
