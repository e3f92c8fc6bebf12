"""Intent matching: Chinese and English, forgiving of phrasing."""

from __future__ import annotations

import pytest

from bot.app import build_router
from bot.dispatch.events import message_event
from tests import feishu_events as fe
from tests.conftest import NOW


@pytest.mark.parametrize(
    "text,name,lang,scope",
    [
        ("待办", "due", "zh", "all"),
        ("我的任务", "due", "zh", "all"),
        ("帮我看看还有什么待办？", "due", "zh", "all"),
        ("本周", "due", "zh", "week"),
        ("逾期", "due", "zh", "overdue"),
        ("有哪些逾期的", "due", "zh", "overdue"),
        ("what's due", "due", "en", "all"),
        ("What\u2019s due?", "due", "en", "all"),
        ("WHATS DUE", "due", "en", "all"),
        ("todo", "due", "en", "all"),
        ("due", "due", "en", "all"),
        ("anything overdue?", "due", "en", "overdue"),
        ("this week", "due", "en", "week"),
        ("帮助", "help", "zh", "all"),
        ("help", "help", "en", "all"),
        ("", "help", "en", "all"),
        ("我是谁", "whoami", "zh", "all"),
        ("whoami", "whoami", "en", "all"),
        ("who am I?", "whoami", "en", "all"),
        ("今天天气不错", "due", "zh", "week"),
        ("hello there", "unknown", "en", "all"),
        ("你好", "unknown", "zh", "all"),
        ("produce", "unknown", "en", "all"),
    ],
)
def test_match_intent(text, name, lang, scope):
    intent = build_router().match(text)
    assert (intent.name, intent.lang, intent.scope) == (name, lang, scope)


def test_group_mention_of_bot_is_stripped_and_detected():
    payload = fe.message(
        "@_user_1 待办", "ou_a", NOW, chat_type="group", mentions=[fe.bot_mention()]
    )
    event = message_event(payload, fe.BOT_OPEN_ID)
    assert event.mentions_bot and event.text == "待办" and event.is_group


def test_group_mention_of_someone_else_is_not_the_bot():
    other = {"key": "@_user_1", "id": {"open_id": "ou_zhang"}, "name": "张三"}
    payload = fe.message("@_user_1 待办", "ou_a", NOW, chat_type="group", mentions=[other])
    event = message_event(payload, fe.BOT_OPEN_ID)
    assert not event.mentions_bot and event.text == "@张三 待办"


def test_post_message_text_is_read():
    content = {
        "title": "",
        "content": [[{"tag": "at", "user_id": "@_user_1"}, {"tag": "text", "text": " what's due"}]],
    }
    payload = fe.message(
        "", "ou_a", NOW, message_type="post", content=content, mentions=[fe.bot_mention()]
    )
    event = message_event(payload, fe.BOT_OPEN_ID)
    assert event.text == "what's due"
