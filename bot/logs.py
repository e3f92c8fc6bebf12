"""Logging: JSON lines when not on a terminal, and secrets never written at any level.

Every configured secret (app secret, encrypt key, verification token) and every tenant
token we fetch is registered here; a filter replaces them in the final message, its
arguments and any exception text before a handler sees the record."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_SECRETS: set[str] = set()
MASK = "***"
_EXTRA_FIELDS = ("event_id", "message_id", "uuid", "chat_id")


def add_secret(value: str | None) -> None:
    """Never log this value (ignored when too short to be a secret)."""
    if value and len(value) >= 6:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in _EXTRA_FIELDS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_text or record.exc_info:
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(
    level: str = "INFO", *, json_lines: bool | None = None, stream=None
) -> logging.Handler:
    """Configure the root logger once; returns the handler (tests capture through it)."""
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not (hasattr(stream, "isatty") and stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level, logging.INFO))
    # Noisy at INFO; lark-oapi's older versions logged whole requests at DEBUG.
    for name, floor in (
        ("Lark", logging.WARNING),
        ("aiohttp.access", logging.WARNING),
        ("alembic", logging.WARNING),
    ):
        logging.getLogger(name).setLevel(max(floor, root.level))
    return handler
