"""What starts a drafted SLA duty (``[[triggers]]``): user questions and complaints are
recognised from the duty's words; anything else gets a trigger named after the duty, with
words to check. Each SLA duty's ``due.trigger`` is set to the key chosen here."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from bot.domain.policy_draft import naming

# (pattern over name + clause, key, name_zh, name_en, words_zh, words_en), first match wins
_KNOWN = (
    (r"投诉|负面|差评|complain|negative review", "complaint", "用户投诉", "Complaint",
     ["投诉"], ["complaint"]),
    (r"咨询|提问|留言|question|inquir|enquir", "question", "用户咨询", "User question",
     ["咨询"], ["question"]),
    (r"工单|ticket", "ticket", "工单", "Ticket", ["工单"], ["ticket"]),
    (r"故障|事故|incident|outage", "incident", "故障", "Incident", ["故障"], ["incident"]),
)  # fmt: skip
WORD_MAX = 20
_ACTION_ZH = re.compile(
    r"(?:响应|处理|修复|恢复|回复|答复|解决|付款|跟进|反馈|处置|受理|回访|联系|审核|核实|办理|"
    r"确认|登记|核对|审批|归档|录入|备案|验收|入库|发货|安排|通知)+$"
)
_ACTION_EN = re.compile(
    r"^(?:respond to|reply to|answer|handle|resolve|acknowledge|process|fix|follow up on|"
    r"follow up|contact|call back|log|record|review and approve|approve|review|apply|"
    r"restore|investigate|complete)\s+(?:the\s+|every\s+|each\s+|all\s+|an?\s+)?",
    re.I,
)


@dataclass
class DraftTrigger:
    key: str
    name_zh: str
    name_en: str
    words_zh: list[str]
    words_en: list[str]
    notes: list[str] = field(default_factory=list)


def _word(text: str) -> str:
    return re.sub(r"[:：\s]+", " ", text).strip()[:WORD_MAX].strip()


def _claim(candidates: list[str], taken: set[str]) -> list[str]:
    """The candidates no trigger has claimed yet (compared as the policy check does)."""
    out = []
    for w in candidates:
        folded = unicodedata.normalize("NFKC", w).casefold()
        if w and folded not in taken:
            taken.add(folded)
            out.append(w)
    return out


def draft_triggers(duties: list) -> list[DraftTrigger]:
    """Choose a trigger for every SLA duty (setting ``due["trigger"]``); the triggers in
    order of first use, each word claimed by one trigger only."""
    found: dict[str, DraftTrigger] = {}
    words: set[str] = set()
    for duty in duties:
        if duty.due.get("kind") != "sla":
            continue
        name = f"{duty.name_zh} {duty.name_en}".lower()
        known = next((k for k in _KNOWN if re.search(k[0], name)), None) or next(
            (k for k in _KNOWN if re.search(k[0], duty.clause.lower())), None
        )  # the duty's own name first: a clause may name several things
        if known is not None:
            _, key, zh, en, wz, we = known
            trig = DraftTrigger(key, zh, en, list(wz), list(we))
        else:
            # what is logged is the thing the duty acts on: 员工报修 (响应), inbound leads
            zh_doc = naming.has_cjk(duty.name_zh)
            what_zh = _ACTION_ZH.sub("", duty.name_zh) if zh_doc else ""
            what_zh = what_zh if len(what_zh) >= 2 else duty.name_zh
            what_en = naming.translate(what_zh)[0] if zh_doc else _ACTION_EN.sub("", duty.name_en)
            what_en = what_en.strip() or duty.name_en
            key = naming.slug(what_zh if zh_doc else what_en, 30)
            trig = DraftTrigger(
                key,
                what_zh if zh_doc else what_en[:1].upper() + what_en[1:],
                what_en[:1].upper() + what_en[1:],
                [w for w in [_word(what_zh)] if w] if zh_doc else [],
                [w for w in [_word(what_en.lower())] if w],
                [f"words guessed from the duty {duty.key}: say what people write before the colon"],
            )
        duty.due["trigger"] = key
        if key in found:
            continue
        trig.words_zh = _claim(trig.words_zh, words)
        trig.words_en = _claim(trig.words_en, words)
        if not trig.words_zh and not trig.words_en:
            trig.words_en = _claim([key.replace("_", " ")[:WORD_MAX]], words) or [key[:WORD_MAX]]
        found[key] = trig
    return list(found.values())
