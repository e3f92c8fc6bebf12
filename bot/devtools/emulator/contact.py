"""The contact (directory) API: users by id."""

from __future__ import annotations

from bot.devtools.emulator.model import ApiError, Reply, Request, Route, Store, ok

USER_ID_TYPES = ("open_id", "union_id", "user_id")


class ContactApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [
            (
                "GET",
                "/open-apis/contact/v3/users/{user_id}",
                "contact.user.get",
                self.h_user_get,
                True,
            ),
        ]

    def add_user(self, open_id: str, name: str, **fields) -> None:
        self.store.users[open_id] = {"open_id": open_id, "name": name, **fields}

    @staticmethod
    def _id_type(req: Request) -> str:
        id_type = req.query.get("user_id_type", "open_id")
        if id_type not in USER_ID_TYPES:
            raise ApiError(400, 99992402, f"field validation failed: user_id_type={id_type!r}")
        return id_type

    def h_user_get(self, req: Request) -> Reply:
        id_type = self._id_type(req)
        wanted = req.match["user_id"]
        for user in self.store.users.values():
            if user.get(id_type) == wanted:
                return ok({"user": dict(user)})
        raise ApiError(400, 41050, "no user authority error")
