"""Feishu Tasks v2 as DutyBot uses it: create (idempotent on `client_token`), patch
(`update_fields` required), delete, add / remove members. Tests read the tasks back through
`FeishuEmulator.tasks` (this object): `all()`, `get(guid)`, `by_summary(text)`, `deleted()`.

Validation follows Feishu's documented rules; the codes are its task API's:
1470400 for a bad parameter (HTTP 400): summary missing or over 256 characters,
description over 3000, `due.timestamp` not a string of milliseconds, a member without
`id` / with a `role` other than assignee or follower, `update_fields` missing or naming a
field the body does not carry; 1470404 (HTTP 404) for an unknown task guid.
`user_id_type` must be open_id, union_id or user_id (99992402 otherwise).

A repeated `client_token` answers the task it created the first time (Feishu's idempotent
create), without creating another."""

from __future__ import annotations

import copy
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from bot.devtools.emulator.model import ApiError, Reply, Request, Route, Store, ok

USER_ID_TYPES = ("open_id", "union_id", "user_id")
ROLES = ("assignee", "follower")
PATCHABLE = ("summary", "description", "due", "start", "completed_at", "extra", "repeat_rule")
SUMMARY_MAX, DESCRIPTION_MAX = 256, 3000


def _bad(msg: str) -> ApiError:
    return ApiError(400, 1470400, f"invalid param: {msg}")


@dataclass
class FeishuTask:
    """A task as Feishu keeps it (timestamps as strings of milliseconds, like the API)."""

    guid: str
    summary: str
    description: str = ""
    due: dict | None = None
    members: list[dict] = field(default_factory=list)
    completed_at: str = "0"
    client_token: str | None = None
    created_at: str = "0"
    updated_at: str = "0"
    history: list[dict] = field(default_factory=list)  # every accepted change, in order

    @property
    def assignees(self) -> list[str]:
        return [m["id"] for m in self.members if m.get("role") == "assignee"]

    @property
    def due_ms(self) -> int | None:
        return int(self.due["timestamp"]) if self.due else None

    @property
    def completed(self) -> bool:
        return self.completed_at not in ("", "0")

    def view(self) -> dict:
        return {
            "guid": self.guid,
            "summary": self.summary,
            "description": self.description,
            "due": copy.deepcopy(self.due),
            "members": copy.deepcopy(self.members),
            "completed_at": self.completed_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": "done" if self.completed else "todo",
            "url": f"https://applink.feishu.cn/client/todo/detail?guid={self.guid}",
        }


def _ms_string(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.isdigit():
        raise _bad(f"{name} must be a string of milliseconds, got {value!r}")
    return value


def _due(value: Any) -> dict:
    if not isinstance(value, dict):
        raise _bad(f"due must be an object, got {value!r}")
    ts = _ms_string(value.get("timestamp"), "due.timestamp")
    if len(ts) < 12:  # seconds, not milliseconds: Feishu would read 1970
        raise _bad(f"due.timestamp must be in milliseconds, got {ts!r}")
    all_day = value.get("is_all_day", False)
    if not isinstance(all_day, bool):
        raise _bad("due.is_all_day must be a boolean")
    return {"timestamp": ts, "is_all_day": all_day}


def _members(value: Any) -> list[dict]:
    if not isinstance(value, list):
        raise _bad("members must be a list")
    out = []
    for m in value:
        if not isinstance(m, dict) or not isinstance(m.get("id"), str) or not m["id"]:
            raise _bad(f"member without id: {m!r}")
        if m.get("role") not in ROLES:
            raise _bad(f"member role must be assignee or follower: {m!r}")
        if m.get("type", "user") not in ("user", "app"):
            raise _bad(f"member type must be user or app: {m!r}")
        out.append({"id": m["id"], "type": m.get("type", "user"), "role": m["role"]})
    return out


class TasksApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        base = "/open-apis/task/v2/tasks"
        return [
            ("POST", base, "task.v2.task.create", self.h_create, True),
            ("GET", base + "/{guid}", "task.v2.task.get", self.h_get, True),
            ("PATCH", base + "/{guid}", "task.v2.task.patch", self.h_patch, True),
            ("DELETE", base + "/{guid}", "task.v2.task.delete", self.h_delete, True),
            ("POST", base + "/{guid}/add_members", "task.v2.task.add_members", self.h_add, True),
            (
                "POST",
                base + "/{guid}/remove_members",
                "task.v2.task.remove_members",
                self.h_remove,
                True,
            ),
        ]

    # ------------------------------------------------------------ test accessors

    def all(self) -> list[FeishuTask]:
        with self.store.lock:
            return copy.deepcopy(list(self.store.tasks.values()))

    def get(self, guid: str) -> FeishuTask | None:
        with self.store.lock:
            task = self.store.tasks.get(guid)
            return copy.deepcopy(task) if task else None

    def deleted(self) -> list[FeishuTask]:
        with self.store.lock:
            return copy.deepcopy(self.store.deleted_tasks)

    def by_summary(self, text: str) -> list[FeishuTask]:
        return [t for t in self.all() if text in t.summary]

    def tick_off(self, guid: str) -> None:
        """Someone completes the task in the Feishu app (the test then sends the event)."""
        with self.store.lock:
            task = self.store.tasks[guid]
            task.completed_at = task.updated_at = self._now_ms()
            task.history.append({"op": "completed in the app", "at": task.updated_at})

    def delete_in_app(self, guid: str) -> None:
        """Someone deletes the task in the Feishu app."""
        with self.store.lock:
            self.store.deleted_tasks.append(self.store.tasks.pop(guid))

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _id_type(req: Request) -> None:
        value = req.query.get("user_id_type", "open_id")
        if value not in USER_ID_TYPES:
            raise ApiError(400, 99992402, f"field validation failed: user_id_type={value!r}")

    def _task(self, req: Request) -> FeishuTask:
        task = self.store.tasks.get(req.match["guid"])
        if task is None:
            raise ApiError(404, 1470404, f"task not found: {req.match['guid']!r}")
        return task

    def _now_ms(self) -> str:
        return str(int(self.store.now() * 1000))

    @staticmethod
    def _body(req: Request) -> dict:
        if not req.json_ok or not isinstance(req.json, dict):
            raise _bad("request body must be a JSON object")
        return req.json

    # ---------------------------------------------------------------- handlers

    def h_create(self, req: Request) -> Reply:
        self._id_type(req)
        body = self._body(req)
        token = body.get("client_token")
        if token is not None and (not isinstance(token, str) or not 10 <= len(token) <= 100):
            raise _bad("client_token must be a string of 10 to 100 characters")
        if token and token in self.store.task_tokens:  # idempotent: the first task again
            self.store.stats["uuid_hits"] += 1
            return ok({"task": self.store.tasks[self.store.task_tokens[token]].view()})
        summary = body.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            raise _bad("summary is required")
        if len(summary) > SUMMARY_MAX:
            raise _bad(f"summary is longer than {SUMMARY_MAX} characters")
        description = body.get("description", "")
        if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
            raise _bad(f"description must be a string of at most {DESCRIPTION_MAX} characters")
        now = self._now_ms()
        task = FeishuTask(
            guid=str(uuidlib.uuid4()),
            summary=summary,
            description=description,
            due=_due(body["due"]) if body.get("due") is not None else None,
            members=_members(body.get("members", [])),
            completed_at=(
                _ms_string(body["completed_at"], "completed_at")
                if body.get("completed_at") is not None
                else "0"
            ),
            client_token=token,
            created_at=now,
            updated_at=now,
        )
        task.history.append({"op": "create", "at": now})
        self.store.tasks[task.guid] = task
        if token:
            self.store.task_tokens[token] = task.guid
        return ok({"task": task.view()})

    def h_get(self, req: Request) -> Reply:
        self._id_type(req)
        return ok({"task": self._task(req).view()})

    def h_patch(self, req: Request) -> Reply:
        self._id_type(req)
        body = self._body(req)
        task = self._task(req)
        fields = body.get("update_fields")
        if not isinstance(fields, list) or not fields:
            raise _bad("update_fields is required")
        patch = body.get("task")
        if not isinstance(patch, dict):
            raise _bad("task is required")
        for name in fields:
            if name not in PATCHABLE:
                raise _bad(f"update_fields: {name!r} cannot be updated here")
        changes: dict[str, Any] = {}
        for name in fields:
            value = patch.get(name)
            if name == "due":
                changes["due"] = _due(value) if value is not None else None
            elif name == "completed_at":
                changes["completed_at"] = _ms_string(value, "task.completed_at")
            elif name == "summary":
                if not isinstance(value, str) or not value.strip():
                    raise _bad("summary cannot be empty")
                changes["summary"] = value[:SUMMARY_MAX]
            elif name == "description":
                changes["description"] = str(value or "")[:DESCRIPTION_MAX]
        for name, value in changes.items():
            setattr(task, name, value)
        task.updated_at = self._now_ms()
        task.history.append({"op": "patch", "fields": list(fields), "at": task.updated_at})
        return ok({"task": task.view()})

    def h_delete(self, req: Request) -> Reply:
        task = self._task(req)
        del self.store.tasks[task.guid]
        self.store.deleted_tasks.append(task)
        return ok({})

    def h_add(self, req: Request) -> Reply:
        self._id_type(req)
        task = self._task(req)
        members = _members(self._body(req).get("members"))
        if not members:
            raise _bad("members is required")
        for m in members:
            if not any(x["id"] == m["id"] and x["role"] == m["role"] for x in task.members):
                task.members.append(m)
        task.updated_at = self._now_ms()
        task.history.append({"op": "add_members", "members": members, "at": task.updated_at})
        return ok({"task": task.view()})

    def h_remove(self, req: Request) -> Reply:
        self._id_type(req)
        task = self._task(req)
        members = _members(self._body(req).get("members"))
        if not members:
            raise _bad("members is required")
        gone = {(m["id"], m["role"]) for m in members}
        task.members = [x for x in task.members if (x["id"], x["role"]) not in gone]
        task.updated_at = self._now_ms()
        task.history.append({"op": "remove_members", "members": members, "at": task.updated_at})
        return ok({"task": task.view()})
