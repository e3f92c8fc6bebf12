"""What the report handlers say, in Chinese and English: `T[key] = (zh, en)`, with
`{placeholders}` filled by `say` / `toast_of`."""

from __future__ import annotations

from typing import Any

from cards.answers import toast
from cards.i18n import t

T: dict[str, tuple[str, str]] = {
    "unknown_task": (
        "找不到这项任务（可能已删除或卡片无效）。请对我说「待办」重新查看。",
        'This task no longer exists (or the card is not valid). Ask me "what\'s due" again.',
    ),
    "unknown_report": (
        "找不到这份报告（可能已删除或卡片无效）。",
        "This report no longer exists (or the card is not valid).",
    ),
    "not_your_task": (
        "这是别人的任务，不能替别人提交。",
        "This is someone else's task; you cannot submit it.",
    ),
    "not_member": (
        "你还不在团队名单里，请联系管理员。",
        "You are not on the team yet; ask an admin.",
    ),
    "no_template": ("这项任务不需要填写报告。", "This task has no report to fill in."),
    "closed": ("这项任务已经关闭（{state}），不能再提交。", "This task is closed ({state})."),
    "form_sent": ("已把表单私信发给你。", "I've sent you the form in a direct message."),
    "invalid": ("请修改后再提交：{errors}", "Please fix and submit again: {errors}"),
    "submitted": ("已提交，等待 {who} 审批。", "Submitted; waiting for {who} to approve."),
    "submitted_outside": ("已提交（{who} 审批）。", "Submitted (approved by {who})."),
    "updated": (
        "已更新为第 {n} 版，审批人的卡片已同步。",
        "Updated to version {n}; the approver's card shows it too.",
    ),
    "resubmitted": (
        "已重新提交（第 {n} 版），等待 {who} 审批。",
        "Resubmitted (version {n}); waiting for {who} to approve.",
    ),
    "unchanged": ("内容没有变化，已是最新版本。", "Nothing changed; this is the latest version."),
    "busy": ("报告刚被修改，请再提交一次。", "The report just changed; please submit again."),
    "not_approver": (
        "只有审批人 {who} 可以审批这份报告。",
        "Only the approver, {who}, can decide on this report.",
    ),
    "own_report": ("不能审批自己的报告。", "You cannot decide on your own report."),
    "already": ("已由 {who} 于 {when} {outcome}。", "Already {outcome} by {who} at {when}."),
    "version_changed": (
        "报告已更新为第 {n} 版，请查看最新内容后再审批。",
        "The report was updated to version {n}; please review it before deciding.",
    ),
    "need_comment": (
        "退回时请在卡片的意见框中写明原因。",
        "Please write the reason in the comment box to reject.",
    ),
    "approved": ("已通过，已通知 {who}。", "Approved; {who} has been told."),
    "rejected": ("已退回，已通知 {who}。", "Rejected; {who} has been told."),
    "full_sent": ("全文已私信发给你。", "The full text is in your direct messages."),
    "view_sent": ("已把报告卡片私信发给你。", "I've sent you the report card."),
    "not_allowed": ("你无权查看这份报告。", "You may not see this report."),
    "no_field": ("这份报告没有这一项。", "This report has no such field."),
    "no_tasks": (
        "目前没有需要提交的报告。说「待办」可查看全部任务。",
        'You have no report to submit right now. Say "what\'s due" for all your tasks.',
    ),
    "form_in_group": (
        "报告表单已私信发给你，请在私聊中填写。",
        "I've sent you the report form in a direct message.",
    ),
    "ambiguous": (
        "有几份报告都符合，请在第一行写明是哪一份，例如「提交{example}」。可提交的有：{names}",
        'Several reports match; name it on the first line, e.g. "submit {example}". Open: {names}',
    ),
    "text_failed_title": ("报告未提交", "Report not submitted"),
    "text_help": (
        "格式：第一行写「提交{duty}」，之后每行一个「字段: 值」。可以用中文或英文字段名。本报告的字段：",
        'Format: "submit {duty}" on the first line, then one "field: value" per line '
        "(Chinese or English names). The fields:",
    ),
    "required": ("必填", "required"),
    "outcome_approved": ("通过", "approved"),
    "outcome_rejected": ("退回", "rejected"),
    "state_approved": ("已通过", "approved"),
    "state_done": ("已完成", "done"),
    "state_cancelled": ("已取消", "cancelled"),
    "full_head": (
        "{duty} · {label}（{author}，第 {n} 版）：",
        "{duty} · {label} ({author}, v{n}):",
    ),
    "cut": ("……（过长，已截断）", "… (too long, cut)"),
    "nobody": ("（部门内无审批人）", "(no approver in the department)"),
    "rerouted_title": ("审批人已变更", "Approver changed"),
    "waiting": (
        "⏰ 这份报告已等待你审批 {n} 个工作日。",
        "⏰ Waiting for your decision for {n} working day(s).",
    ),
    "escalated_title": ("审批超时", "Approval overdue"),
    "escalated": (
        "「{duty}」（{author}）已等待 {who} 审批 {n} 个工作日。",
        '"{duty}" ({author}) has waited {n} working day(s) for {who}\'s decision.',
    ),
    "rerouted": (
        "「{duty}」（{author}）现由 {who} 审批，这张卡片已失效。",
        '"{duty}" ({author}) is now approved by {who}; this card no longer applies.',
    ),
}

TYPE_NAMES = {
    "integer": ("整数", "whole number"),
    "number": ("数字", "number"),
    "money": ("金额", "amount"),
    "percent": ("百分数，如 85%", "percent, e.g. 85%"),
    "text": ("短文本", "short text"),
    "longtext": ("长文本，可多行", "long text, may span lines"),
    "date": ("日期，如 2026-11-27", "date, e.g. 2026-11-27"),
    "choice": ("选项", "one of"),
    "person": ("人员，可 @ 或写姓名", "person: @-mention or name"),
}


def say(key: str, lang: str, **kw: Any) -> str:
    """T[key] in `lang`; `kw` values may be (zh, en) pairs."""
    return t(lang, *T[key]).format(**pick(kw, lang))


def toast_of(kind: str, key: str, **kw: Any) -> dict:
    """A toast in both languages; `kw` values may be (zh, en) pairs."""
    return toast(kind, say(key, "zh", **kw), say(key, "en", **kw))


def pick(kw: dict[str, Any], lang: str) -> dict[str, Any]:
    """Keyword values in `lang`: (zh, en) pairs are resolved, anything else kept."""
    return {k: t(lang, *v) if isinstance(v, tuple) else v for k, v in kw.items()}


def type_name(kind: str, lang: str) -> str:
    return t(lang, *TYPE_NAMES.get(kind, (kind, kind)))
