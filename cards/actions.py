"""Typed card actions: one frozen payload class per button (in the spirit of aiogram's
`CallbackData`). Builders put `Action(...).pack()` into a button's value; the dispatcher
calls `unpack` and hands the handler the typed action, never the raw dict.

The wire format is the one cards already in people's chats carry, so old cards keep
working: ``{"a": <name>, "v": 1, <short key>: <value>, ...}``. Optional fields are left out
when empty. Authority is never in a value: handlers check the clicking user.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

VERSION = 1
MAX_STR = 200  # values are ours, but a tampered click must not carry a novel


class BadAction(ValueError):
    """A click whose value does not fit its action (tampered, or a card from an old build)."""


def _wire(key: str, kind: str, default: Any = dataclasses.MISSING) -> Any:
    """A field stored under `key` in the button value; `kind` is int | str | lang | strs.
    A "lang" field reads as "" when the value has none (old cards): the handler then uses
    the asker's language."""
    meta = {"key": key, "kind": kind}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


def _parse(kind: str, raw: Any, name: str) -> Any:
    if kind == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.isdigit() and len(raw) < 18:
            return int(raw)
        raise BadAction(f"{name}: not a whole number")
    if kind == "lang":
        return raw if raw in ("zh", "en") else ""
    if kind == "str":
        if isinstance(raw, str | int) and not isinstance(raw, bool) and len(str(raw)) <= MAX_STR:
            return str(raw)
        raise BadAction(f"{name}: not a short text")
    if kind == "strs":
        if isinstance(raw, list) and len(raw) <= 100:
            return tuple(str(x)[:MAX_STR] for x in raw if isinstance(x, str))
        raise BadAction(f"{name}: not a list")
    raise AssertionError(kind)


@dataclass(frozen=True)
class CardAction:
    """Base class: subclasses set `name` (the wire "a") and declare fields with `_wire`."""

    name: ClassVar[str] = ""

    def pack(self) -> dict[str, Any]:
        value: dict[str, Any] = {"a": self.name, "v": VERSION}
        for f in dataclasses.fields(self):
            item = getattr(self, f.name)
            if item is None or item == () or item == "":
                continue
            if f.default is not dataclasses.MISSING and item == f.default and f.name != "lang":
                continue  # the language is always carried: the answer speaks it
            value[f.metadata["key"]] = list(item) if isinstance(item, tuple) else item
        return value

    @classmethod
    def unpack(cls, value: dict[str, Any]) -> Self:
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            key, kind = f.metadata["key"], f.metadata["kind"]
            raw = value.get(key)
            if raw is None or (kind == "strs" and raw == []):
                if f.default is dataclasses.MISSING:
                    raise BadAction(f"{cls.name}: missing {key!r}")
                continue
            kwargs[f.name] = _parse(kind, raw, f"{cls.name}.{key}")
        return cls(**kwargs)


def action_name(value: Any) -> str | None:
    """The wire name of a click's value, or None when it has none."""
    name = value.get("a") if isinstance(value, dict) else None
    return name if isinstance(name, str) else None


# -- what's due -------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshDue(CardAction):
    name: ClassVar[str] = "due.refresh"
    owner: str = _wire("o", "str", "")  # whose list: a click on someone else's is refused
    lang: str = _wire("l", "lang", "")
    scope: str = _wire("scope", "str", "all")


# -- tasks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkDone(CardAction):
    name: ClassVar[str] = "task.done"
    task_id: int = _wire("t", "int")
    lang: str = _wire("l", "lang", "")  # "" = the card did not say: the asker's language


@dataclass(frozen=True)
class Snooze(CardAction):
    name: ClassVar[str] = "task.snooze"
    task_id: int = _wire("t", "int")
    lang: str = _wire("l", "lang", "")


@dataclass(frozen=True)
class LogForwarded(CardAction):
    """Log a message forwarded to the bot as a trigger of the policy (a user question, a
    complaint): `message` is the forwarded message's id, `trigger` the trigger key."""

    name: ClassVar[str] = "sla.log"
    message: str = _wire("m", "str")
    trigger: str = _wire("g", "str")
    lang: str = _wire("l", "lang", "")


# -- reports ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenReport(CardAction):
    """Open the report form; `card` is the outbox uuid of the card clicked, when it is ours
    to replace in place (a picker or the author's summary)."""

    name: ClassVar[str] = "report.open"
    task_id: int = _wire("t", "int")
    lang: str = _wire("l", "lang", "")
    card: str = _wire("c", "str", "")


@dataclass(frozen=True)
class SubmitReport(CardAction):
    """The form's submit button; `kept` names fields too long for the form that keep their
    stored value when left untouched; `version` is the version this form creates (0 on
    forms sent before it was carried), so a double click stores one version."""

    name: ClassVar[str] = "report.submit"
    task_id: int = _wire("t", "int")
    lang: str = _wire("l", "lang", "")
    card: str = _wire("c", "str", "")
    kept: tuple[str, ...] = _wire("k", "strs", ())
    version: int = _wire("ver", "int", 0)
    source: str = _wire("s", "str", "")  # message id of the card the form was opened from


@dataclass(frozen=True)
class Approve(CardAction):
    name: ClassVar[str] = "report.approve"
    report_id: int = _wire("r", "int")
    version: int = _wire("ver", "int", 0)  # the version the approver saw
    lang: str = _wire("l", "lang", "")


@dataclass(frozen=True)
class Reject(CardAction):
    name: ClassVar[str] = "report.reject"
    report_id: int = _wire("r", "int")
    version: int = _wire("ver", "int", 0)
    lang: str = _wire("l", "lang", "")


@dataclass(frozen=True)
class FullText(CardAction):
    name: ClassVar[str] = "report.full"
    report_id: int = _wire("r", "int")
    field_key: str = _wire("f", "str")
    lang: str = _wire("l", "lang", "")


@dataclass(frozen=True)
class ViewReport(CardAction):
    name: ClassVar[str] = "report.view"
    report_id: int = _wire("r", "int")
    lang: str = _wire("l", "lang", "")


# -- team and activities ----------------------------------------------------------------


@dataclass(frozen=True)
class MakeTeamChat(CardAction):
    name: ClassVar[str] = "chat.make_team"
    chat_id: str = _wire("c", "str", "")


@dataclass(frozen=True)
class CreateActivity(CardAction):
    name: ClassVar[str] = "activity.create"
    nonce: str = _wire("n", "str", "")  # one activity per form, however often it is clicked
    lang: str = _wire("l", "lang", "")


@dataclass(frozen=True)
class AssignRoles(CardAction):
    """The import card's role selects: the people shown (ids and names, in select order)."""

    name: ClassVar[str] = "team.import_assign"
    lang: str = _wire("l", "lang", "")
    ids: tuple[str, ...] = _wire("ids", "strs", ())
    names: tuple[str, ...] = _wire("names", "strs", ())


@dataclass(frozen=True)
class ReassignTask(CardAction):
    """The hand-off card's form: give one of `tasks` (ids, as shown on the card) of the
    person `who` left to another member; the task and the member come from the form."""

    name: ClassVar[str] = "handoff.reassign"
    who: str = _wire("w", "str")
    lang: str = _wire("l", "lang", "")
    tasks: tuple[str, ...] = _wire("ts", "strs", ())
    why: str = _wire("r", "str", "")  # left | removed | role
    role: str = _wire("ro", "str", "")  # the role they left (a role change)


ALL: tuple[type[CardAction], ...] = (
    RefreshDue,
    MarkDone,
    Snooze,
    OpenReport,
    SubmitReport,
    Approve,
    Reject,
    FullText,
    ViewReport,
    MakeTeamChat,
    CreateActivity,
    AssignRoles,
    ReassignTask,
)
