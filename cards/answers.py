"""Card callback answers (the HTTP body Feishu shows within 3 s): a toast, a new card, or
both. Toasts carry both languages; Feishu picks the user's."""

from __future__ import annotations

from cards.elements import escape

TOAST_KINDS = ("success", "info", "warning", "error")


def toast(kind: str, zh: str, en: str) -> dict:
    """A short message over the card (plain text: escaped here)."""
    assert kind in TOAST_KINDS, kind
    zh, en = escape(zh, markup=False), escape(en, markup=False)
    return {"toast": {"type": kind, "content": zh, "i18n": {"zh_cn": zh, "en_us": en}}}


def with_card(answer: dict, card: dict) -> dict:
    """`answer` plus a card that replaces the clicked one in place."""
    return {**answer, "card": {"type": "raw", "data": card}}


def answer_card(answer: dict) -> dict | None:
    """The replacement card of an answer, if it has one."""
    card = answer.get("card") if isinstance(answer, dict) else None
    return card.get("data") if isinstance(card, dict) else None
