"""Reading the Feishu directory through lark-oapi's async calls (with the gateway's token,
limits and retries, so the SDK's blocking token fetch never runs on the event loop):
a department's users and its leader, a chat's members, users in batches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.directory import DirectoryError, Person
from bot.feishu.gateway import FeishuError, FeishuGateway
from bot.feishu.sdk import load as load_sdk

USERS_PAGE = 50  # find_by_department's maximum page
MEMBERS_PAGE = 100  # chat members' maximum page
BATCH = 50  # users/batch takes at most 50 ids


@dataclass(frozen=True)
class Department:
    open_department_id: str
    name: str
    leader_open_id: str | None


def _person(user) -> Person | None:
    """A directory user as a Person; None for people who left (resigned) or have no id."""
    status = getattr(user, "status", None)
    if status is not None and getattr(status, "is_resigned", False):
        return None
    if not user.open_id:
        return None
    return Person(
        open_id=user.open_id,
        name=user.name or user.en_name or user.open_id,
        job_title=(user.job_title or "").strip(),
        en_name=user.en_name or "",
    )


class Directory:
    def __init__(
        self,
        gateway: FeishuGateway,
        *,
        users_page: int = USERS_PAGE,
        members_page: int = MEMBERS_PAGE,
    ) -> None:
        self.gateway = gateway
        self.users_page, self.members_page = users_page, members_page

    @property
    def client(self):
        return self.gateway.client

    async def department(self, department_id: str) -> Department:
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.contact.v3 import GetDepartmentRequest

        req = (
            GetDepartmentRequest.builder()
            .department_id(department_id)
            .department_id_type("open_department_id")
            .user_id_type("open_id")
            .build()
        )
        resp = await self.gateway.call(
            lambda o: self.client.contact.v3.department.aget(req, o), what="department"
        )
        dept = resp.data.department
        return Department(
            open_department_id=dept.open_department_id or department_id,
            name=dept.name or department_id,
            leader_open_id=dept.leader_user_id or None,
        )

    async def department_people(self, department_id: str) -> list[Person]:
        """The department's direct members, every page."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.contact.v3 import FindByDepartmentUserRequest

        people: list[Person] = []
        token: str | None = None
        while True:
            builder = (
                FindByDepartmentUserRequest.builder()
                .department_id(department_id)
                .department_id_type("open_department_id")
                .user_id_type("open_id")
                .page_size(self.users_page)
            )
            if token:
                builder = builder.page_token(token)
            req = builder.build()
            resp = await self.gateway.call(
                lambda o, req=req: self.client.contact.v3.user.afind_by_department(req, o),
                what="find_by_department",
            )
            people += [p for p in map(_person, resp.data.items or []) if p is not None]
            token = resp.data.page_token if resp.data.has_more else None
            if not token:
                return people

    async def chat_member_ids(self, chat_id: str) -> list[str]:
        """Open ids of the chat's members (Feishu never lists bots here), every page."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.im.v1 import GetChatMembersRequest

        ids: list[str] = []
        token: str | None = None
        while True:
            builder = (
                GetChatMembersRequest.builder()
                .chat_id(chat_id)
                .member_id_type("open_id")
                .page_size(self.members_page)
            )
            if token:
                builder = builder.page_token(token)
            req = builder.build()
            resp = await self.gateway.call(
                lambda o, req=req: self.client.im.v1.chat_members.aget(req, o),
                what="chat members",
            )
            ids += [m.member_id for m in resp.data.items or [] if m.member_id]
            token = resp.data.page_token if resp.data.has_more else None
            if not token:
                return ids

    async def people(self, open_ids: Iterable[str]) -> list[Person]:
        """Users' details (name, job title) in batches of 50; unknown ids are left out."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.contact.v3 import BatchUserRequest

        wanted = list(dict.fromkeys(open_ids))
        found: dict[str, Person] = {}
        for i in range(0, len(wanted), BATCH):
            req = (
                BatchUserRequest.builder()
                .user_ids(wanted[i : i + BATCH])
                .user_id_type("open_id")
                .build()
            )
            resp = await self.gateway.call(
                lambda o, req=req: self.client.contact.v3.user.abatch(req, o), what="users"
            )
            for user in resp.data.items or []:
                person = _person(user)
                if person is not None:
                    found[person.open_id] = person
        return [found[i] for i in wanted if i in found]

    async def gather(
        self, department_id: str | None = None, chat_id: str | None = None
    ) -> tuple[list[Person], Department | None]:
        """The department's members and/or the chat's, each once, and the department;
        DirectoryError (Feishu's code and message) when the directory says no."""
        try:
            return await self._gather(department_id, chat_id)
        except FeishuError as exc:
            raise DirectoryError(exc.code, str(exc)) from exc

    async def _gather(
        self, department_id: str | None, chat_id: str | None
    ) -> tuple[list[Person], Department | None]:
        people: list[Person] = []
        dept = None
        if department_id:
            dept = await self.department(department_id)
            people += await self.department_people(department_id)
            leader = dept.leader_open_id
            if leader and leader not in {p.open_id for p in people}:
                people += await self.people([leader])  # leads it without being a direct member
        if chat_id:
            known = {p.open_id for p in people}
            ids = [i for i in await self.chat_member_ids(chat_id) if i not in known]
            people += await self.people(ids)
        return people, dept
