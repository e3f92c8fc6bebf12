"""The directory as DutyBot reads it: contact/v3 users (by id, in batches, by department),
departments (with their leader) and the members of a chat (im/v1, users only: Feishu never
lists bots there). Paged lists hand out opaque page tokens bound to their query.

Error codes (Feishu's documented ones): unknown user 41050 "no user authority error";
a department outside the app's contact scope 40004 (HTTP 403);
bad page size 40011, bad page token 40012; unknown chat 232006; bad field values 99992402."""

from __future__ import annotations

import base64
import hashlib

from bot.devtools.emulator.model import ApiError, AppConfig, Reply, Request, Route, Store, ok

USER_ID_TYPES = ("open_id", "union_id", "user_id")
DEPARTMENT_ID_TYPES = ("open_department_id", "department_id")
USERS_PAGE = (10, 50)  # find_by_department: default, maximum
MEMBERS_PAGE = (20, 100)  # chat members: default, maximum
BATCH_MAX = 50


def _invalid(field: str, value: object) -> ApiError:
    return ApiError(400, 99992402, f"field validation failed: {field}={value!r}")


class ContactApi:
    def __init__(self, store: Store, config: AppConfig) -> None:
        self.store = store
        self.config = config

    def routes(self) -> list[Route]:
        # Fixed paths before "/users/{user_id}": aiohttp matches in registration order.
        return [
            (
                "GET",
                "/open-apis/contact/v3/users/find_by_department",
                "contact.user.find_by_department",
                self.h_find_by_department,
                True,
            ),
            (
                "GET",
                "/open-apis/contact/v3/users/batch",
                "contact.user.batch",
                self.h_batch,
                True,
            ),
            (
                "GET",
                "/open-apis/contact/v3/users/{user_id}",
                "contact.user.get",
                self.h_user_get,
                True,
            ),
            (
                "GET",
                "/open-apis/contact/v3/departments/{department_id}",
                "contact.department.get",
                self.h_department_get,
                True,
            ),
            (
                "GET",
                "/open-apis/im/v1/chats/{chat_id}/members",
                "im.chat.members.get",
                self.h_chat_members,
                True,
            ),
        ]

    # ------------------------------------------------------------ directory data

    def add_user(self, open_id: str, name: str, **fields) -> None:
        self.store.users[open_id] = {"open_id": open_id, "name": name, **fields}

    def add_department(
        self, open_department_id: str, name: str, leader_user_id: str | None, **fields
    ) -> None:
        dept = {
            "open_department_id": open_department_id,
            "department_id": fields.pop("department_id", open_department_id),
            "name": name,
            "member_count": 0,
            "status": {"is_deleted": False},
            **fields,
        }
        if leader_user_id:
            dept["leader_user_id"] = leader_user_id
            dept["leaders"] = [{"leaderType": 1, "leaderID": leader_user_id}]
        self.store.departments[open_department_id] = dept

    def set_chat_members(self, chat_id: str, open_ids: list[str]) -> None:
        self.store.chat_members[chat_id] = list(open_ids)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _choice(req: Request, name: str, allowed: tuple[str, ...]) -> str:
        value = req.query.get(name, allowed[0])
        if value not in allowed:
            raise _invalid(name, value)
        return value

    def _user_view(self, user: dict, id_type: str) -> dict:
        """A user as the API returns it; `user_id` only when asked for (a gated field)."""
        view = dict(user)
        if id_type != "user_id":
            view.pop("user_id", None)
        return view

    def _find_user(self, id_type: str, wanted: str) -> dict | None:
        for user in self.store.users.values():
            if user.get(id_type) == wanted:
                return user
        return None

    def _department(self, req: Request, dept_id: str) -> dict:
        id_type = self._choice(req, "department_id_type", DEPARTMENT_ID_TYPES)
        for dept in self.store.departments.values():
            if dept.get(id_type) == dept_id:
                return dept
        raise ApiError(403, 40004, "no dept authority error")

    def _page(self, req: Request, items: list, sizes: tuple[int, int]) -> tuple[list, dict]:
        """Slice `items` by page_size / page_token; the token encodes the offset and a
        fingerprint of the query, so a token from another list is refused (40012)."""
        default, maximum = sizes
        raw_size = req.query.get("page_size")
        try:
            size = int(raw_size) if raw_size is not None else default
        except ValueError:
            size = -1
        if not 1 <= size <= maximum:
            raise ApiError(400, 40011, "page size is invalid")
        fingerprint = hashlib.sha1(
            f"{req.path}?{sorted((k, v) for k, v in req.query.items() if k not in ('page_token', 'page_size'))}".encode()
        ).hexdigest()[:8]
        offset = 0
        token = req.query.get("page_token")
        if token:
            try:
                mark, _, at = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
                offset = int(at)
            except ValueError:
                raise ApiError(400, 40012, "page token is invalid error") from None
            if mark != fingerprint or not 0 <= offset <= len(items):
                raise ApiError(400, 40012, "page token is invalid error")
        page = items[offset : offset + size]
        more = offset + size < len(items)
        meta: dict = {"has_more": more}
        if more:
            meta["page_token"] = base64.urlsafe_b64encode(
                f"{fingerprint}:{offset + size}".encode()
            ).decode()
        return page, meta

    # ---------------------------------------------------------------- handlers

    def h_user_get(self, req: Request) -> Reply:
        id_type = self._choice(req, "user_id_type", USER_ID_TYPES)
        user = self._find_user(id_type, req.match["user_id"])
        if user is None:
            raise ApiError(400, 41050, "no user authority error")
        return ok({"user": self._user_view(user, id_type)})

    def h_batch(self, req: Request) -> Reply:
        id_type = self._choice(req, "user_id_type", USER_ID_TYPES)
        ids = req.query_all.get("user_ids", [])
        if not ids:
            raise _invalid("user_ids", ids)
        if len(ids) > BATCH_MAX:
            raise _invalid("user_ids", f"{len(ids)} ids (at most {BATCH_MAX})")
        users = [self._find_user(id_type, i) for i in ids]  # unknown ids are left out
        return ok({"items": [self._user_view(u, id_type) for u in users if u is not None]})

    def h_find_by_department(self, req: Request) -> Reply:
        id_type = self._choice(req, "user_id_type", USER_ID_TYPES)
        dept_id = req.query.get("department_id")
        if not dept_id:
            raise _invalid("department_id", dept_id)
        if dept_id == "0":  # the root: everyone in the app's contact scope
            members = list(self.store.users.values())
        else:
            dept = self._department(req, dept_id)
            key = dept["open_department_id"]
            members = [
                u for u in self.store.users.values() if key in (u.get("department_ids") or ())
            ]
        page, meta = self._page(req, members, USERS_PAGE)
        return ok({**meta, "items": [self._user_view(u, id_type) for u in page]})

    def h_department_get(self, req: Request) -> Reply:
        self._choice(req, "user_id_type", USER_ID_TYPES)
        dept = dict(self._department(req, req.match["department_id"]))
        dept["member_count"] = sum(
            dept["open_department_id"] in (u.get("department_ids") or ())
            for u in self.store.users.values()
        )
        return ok({"department": dept})

    def h_chat_members(self, req: Request) -> Reply:
        id_type = self._choice(req, "member_id_type", USER_ID_TYPES)
        chat_id = req.match["chat_id"]
        if chat_id not in self.store.chat_members:
            raise ApiError(
                400, 232006, f"Your request specifies a chat_id which is invalid: {chat_id}"
            )
        members = self.store.chat_members[chat_id]
        page, meta = self._page(req, members, MEMBERS_PAGE)
        items = []
        for open_id in page:
            user = self.store.users.get(open_id, {"open_id": open_id, "name": ""})
            items.append(
                {
                    "member_id_type": id_type,
                    "member_id": user.get(id_type, open_id),
                    "name": user.get("name", ""),
                    "tenant_key": self.config.tenant_key,
                }
            )
        return ok({**meta, "items": items, "member_total": len(members)})
