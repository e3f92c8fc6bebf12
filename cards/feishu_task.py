"""What a DutyBot task looks like in Feishu Tasks v2 (pure: bodies as dicts, no I/O).

Feishu's task text is plain text (no markdown), so user text only needs cleaning and
cutting to Feishu's limits (summary 256, description 3000 characters). Timestamps are
strings of milliseconds, as the Tasks v2 API documents them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

from cards.elements import plain_str, truncate

SUMMARY_CHARS = 256
DESCRIPTION_CHARS = 3000
CLAUSE_CHARS = 1500


@dataclass(frozen=True)
class MirroredTask:
    """One DutyBot task as the mirror sends it."""

    task_id: int
    duty_key: str
    duty_zh: str
    duty_en: str
    clause: str
    period_key: str
    activity_title: str | None
    assignee_open_id: str
    due_at: datetime


def ms(at: datetime) -> str:
    """An aware datetime as Feishu's "timestamp": a string of epoch milliseconds."""
    return str(int(at.timestamp() * 1000))


def client_token(task_id: int, duty_key: str, period_key: str) -> str:
    """The create's idempotency key, from the task's id and natural key: the same task always
    sends the same token (10-100 characters), so a retried create never makes a second."""
    digest = hashlib.sha256(f"{task_id}|{duty_key}|{period_key}".encode()).hexdigest()[:16]
    return f"dutybot-task-{task_id}-{digest}"


def bot_link(domain: str, app_id: str) -> str:
    """An AppLink that opens the chat with the bot (Lark's host for Lark tenants)."""
    host = urlsplit(domain).hostname or ""
    base = "applink.larksuite.com" if host.endswith("larksuite.com") else "applink.feishu.cn"
    return f"https://{base}/client/bot/open?appId={quote(app_id)}"


def assignee(open_id: str) -> dict:
    return {"id": open_id, "type": "user", "role": "assignee"}


def summary(t: MirroredTask) -> str:
    if t.activity_title:
        return plain_str(f"{t.duty_zh}：{t.activity_title}", SUMMARY_CHARS)
    return plain_str(f"{t.duty_zh}（{t.period_key}）", SUMMARY_CHARS)


def description(t: MirroredTask, link: str) -> str:
    lines = [
        f"DutyBot 职责 · Duty: {t.duty_zh} / {t.duty_en} [{t.duty_key}]",
        f"依据 · Clause: {truncate(' '.join(t.clause.split()), CLAUSE_CHARS) or '—'}",
        (
            f"活动 · Activity: {plain_str(t.activity_title, 200)}"
            if t.activity_title
            else f"周期 · Period: {t.period_key}"
        ),
        f"在 DutyBot 中提交或标记完成 · Submit or mark it done in DutyBot: {link}",
        f"DutyBot #{t.task_id}",
    ]
    return truncate("\n".join(lines), DESCRIPTION_CHARS)


def create_body(t: MirroredTask, link: str) -> dict:
    """The body of POST /open-apis/task/v2/tasks for this task."""
    return {
        "summary": summary(t),
        "description": description(t, link),
        "due": {"timestamp": ms(t.due_at), "is_all_day": False},
        "members": [assignee(t.assignee_open_id)],
        "client_token": client_token(t.task_id, t.duty_key, t.period_key),
    }
