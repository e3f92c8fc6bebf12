"""What a drafted duty is called: its name from the sentence around the time expression
(the deliverable after the time: "每月5日前向总经理提交人力资源月报" -> 人力资源月报; an SLA
keeps its subject: 生产系统故障恢复), and the English a key is made from."""

from __future__ import annotations

import re

from bot.domain.policy_draft.cadence import Timing


def key_en(name: str) -> str:
    """ "Submit the weekly pipeline report" -> "weekly pipeline report": a key names the
    deliverable, without the verb of handing it in or articles."""
    words = name.split()
    if len(words) > 2 and re.fullmatch(
        r"submit|prepare|present|send|deliver|provide|produce|compile|write|issue|file|share",
        words[0],
        re.I,
    ):
        words = words[1:]
    small = {"the", "a", "an", "every", "each", "all", "to", "of", "in", "for", "on", "and"}
    return " ".join(w for w in words if w.lower() not in small) or name


def duty_name(norm: str, t: Timing, title: str, en_doc: bool, since: int | None = None) -> str:
    """``since``: where the text about this time starts when a sentence states several
    ("Acknowledge P1 incidents within 15 minutes and restore service within 4 hours")."""
    book = re.search(r"《([^》]{2,30})》", norm)
    if book:
        return book.group(1)
    if en_doc and since is not None:
        seg = re.sub(r"^[\s,;]*(?:and|then|also)?\s+", " ", norm[since : t.start])
        seg = clean_name(seg, en_doc)
        if _long_enough(seg, en_doc):
            return seg
    bounds = [0] + [m.end() for m in re.finditer(r"[，,；;()（）]", norm)] + [len(norm) + 1]
    parts = [(bounds[i], norm[bounds[i] : bounds[i + 1] - 1]) for i in range(len(bounds) - 1)]
    idx = next((i for i, (s, p) in enumerate(parts) if s <= t.start < s + len(p) + 1), 0)
    order = [idx] + list(range(idx + 1, len(parts))) + list(range(idx - 1, -1, -1))
    for i in order:
        s, p = parts[i]
        if i == idx and not en_doc and t.kind != "sla":
            # "新员工入职后2个工作日内完成入职手续办理": what follows the time is the deliverable;
            # what precedes it is the event or who does it (an SLA keeps its subject: 客户投诉)
            after = clean_name(p[t.end - s :], en_doc)
            if len(after) >= 4:
                return after
        p = p.replace(t.text, " ") if i == idx else p
        p = clean_name(p, en_doc)
        if _long_enough(p, en_doc):
            if not en_doc and len(p) < 4 and title:
                return f"{title}·{p}"
            return p
    return title or ("Duty" if en_doc else "职责")


_FILLER_ZH = re.compile(
    r"^(?:如|例如|并|且|需|须|应|要|于|及时|按时|负责|前|后|内|之前|之内|以内|完成后|"
    r"下班前|上午|下午|中午|前|之前|的|对|将|由|向|一次|次|1次|每个?月|每周|每季度?|每年|每日|每天|"
    r"提交|输出|编制|完成|召开|组织|制定|撰写|形成|出具|上报|报送|填写)+"
)
_NOISE_ZH = re.compile(
    r"(?:须|需|应|要|必须)?(?:在|于)(?=\s|$)|(?:须|需|应|必须)(?:在|于)|"
    r"(?:上午|下午|晚上|中午)?\d{1,2}(?::\d{2}|点\d{0,2}分?|点半)(?:之?前)?|下班前"
)
_FILLER_EN = re.compile(
    r"^(?:\s*(?:by|before|on|and|to|must|should|shall|will|also|then|the|a|an|at|"
    r"\d{1,2}(?::\d{2})?\s*(?:am|pm)?|e\.g\.)\b\s*)+",
    re.I,
)


def clean_name(p: str, en_doc: bool) -> str:
    if en_doc:  # where the time was cut out: "patches   of release" -> "patches"
        p = re.split(r"\s{2,}(?:of|after|from|following|upon|on|since)\b", p)[0]
    p = p.strip(" 　.。,，")
    if en_doc:
        p = re.split(
            r"\s+(?:including|covering|with|listing|so that|in order to|after|before|within|"
            r"no later than|by|(?:every|each)(?=\s+(?:\d|day|week|month|quarter|year|working|"
            r"business|mon|tue|wed|thu|fri|sat|sun|other|two|morning|evening)))\b",
            p,
        )[0]
        p = _FILLER_EN.sub("", p).strip(" .,")
        p = " ".join(p.split()[:8])
        p = re.sub(
            r"(?:\s+(?:to|the|a|an|of|for|on|at|in|and|annually|monthly|weekly|daily))+$", "", p
        )
        return p[:1].upper() + p[1:]
    p = _NOISE_ZH.sub("", p)
    p = _TO_WHOM_ZH.sub("", p.replace(" ", ""))
    p = _FILLER_ZH.sub("", p)
    p = _FILLER_ZH.sub("", _TO_WHOM_ZH.sub("", p))
    p = _AND_THEN_ZH.split(p)[0]
    # "高危漏洞发现后完成修复" -> "高危漏洞修复": the event and the verb of doing add nothing
    p = re.sub(
        r"(?:发现|收到|受理|接到|出现|发生|签订|签署|到访|到达|到仓|到货|发起|确认|下单|批准)(?:后|之后)"
        r"|(?:给出|做出|作出|进行)(?!率|情况)",
        "",
        p,
    )
    p = re.sub(r"(?<=.{2})完成(?!率|情况|度)", "", p)
    p = re.sub(r"([\u4e00-\u9fff]{2,4})\1", r"\1", p)  # "合同合同归档"
    p = re.sub(r"(?:前|之前|以内|内)$", "", p)
    return p[:20]


# "向总经理提交人力资源月报" -> "人力资源月报"; "工资核算并提交财务部" -> "工资核算"
_TO_WHOM_ZH = re.compile(
    r"^(?:向|给|对)?[^，,]{0,8}?(?:经理|总监|总裁|主管|领导|部门?|中心|负责人|委员会|小组)"
    r"(?:提交|报送|上报|汇报|报告|呈报|发送|递交)"
)
_AND_THEN_ZH = re.compile(
    r"(?:并|并且|后|然后)(?:提交|报送|上报|抄送|发送|交|报|递交|同步|反馈|通知|告知|转交)"
)


def _long_enough(p: str, en_doc: bool) -> bool:
    if en_doc:
        return len(re.findall(r"[A-Za-z]{2,}", p)) >= 2
    return len(re.findall(r"[\u4e00-\u9fffA-Za-z]", p)) >= 2
