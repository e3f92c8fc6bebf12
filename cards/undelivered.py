"""The admins' alert when messages could not be delivered (one card per incident)."""

from __future__ import annotations

from dataclasses import dataclass

from cards.elements import card, markdown, md_text, text_div, truncate

ERROR_CHARS = 300

KIND_NAMES = {
    "answer": ("聊天回复", "chat answers"),
    "card_update": ("卡片更新", "card updates"),
    "card": ("卡片更新", "card updates"),
    "alert": ("告警", "alerts"),
    "notice": ("通知", "notices"),
    "reminder": ("提醒", "reminders"),
    "escalation": ("升级提醒", "escalations"),
    "digest": ("汇总", "digests"),
    "task": ("飞书任务同步", "Feishu Tasks updates"),
}
REASONS = {
    "expired": ("重试到有效期仍未送达", "still failing when they stopped mattering"),
    "payload": ("消息内容被飞书拒绝", "refused by Feishu as malformed"),
    "permanent": ("接收方不可达或无权限", "receiver gone or no permission"),
    "failed": ("发送失败", "failed"),
}


@dataclass(frozen=True)
class LostGroup:
    purpose: str
    reason: str
    count: int


def build_undelivered_card(groups: list[LostGroup], example_error: str) -> dict:
    """Bilingual (admins may read either); the Feishu error is shown as plain text."""
    zh_lines, en_lines = [], []
    for g in groups:
        unknown_kind, unknown_why = md_text(g.purpose, 40), md_text(g.reason, 40)
        zh_kind, en_kind = KIND_NAMES.get(g.purpose, (unknown_kind, unknown_kind))
        zh_why, en_why = REASONS.get(g.reason, (unknown_why, unknown_why))
        zh_lines.append(f"- {zh_kind} {g.count} 条：{zh_why}")
        en_lines.append(f"- {g.count} {en_kind}: {en_why}")
    return card(
        title="消息未能送达 · Messages not delivered",
        template="red",
        summary="有消息未能送达 · Messages not delivered",
        elements=[
            markdown("以下消息没有送达，不会再重试：\n" + "\n".join(zh_lines)),
            markdown(
                "These messages were not delivered and will not be retried:\n" + "\n".join(en_lines)
            ),
            text_div(truncate(example_error, ERROR_CHARS) or "—", text_size="notation"),
            markdown(
                "同一事件期间不再重复告警；详情见日志与 /metrics 中的 "
                "`dutybot_outbox_undelivered_total`。\n"
                "No further alert during this incident; see the log and "
                "`dutybot_outbox_undelivered_total` in /metrics.",
                text_size="notation",
            ),
        ],
    )
