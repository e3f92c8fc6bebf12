"""Feishu Tasks v2 through lark-oapi's typed async calls (lark_oapi.api.task.v2), with the
gateway's token, limits and retries: create (idempotent on `client_token`), patch, add and
remove members. Bodies are plain dicts (cards/feishu_task.py builds them); timestamps are
strings of milliseconds, as Feishu documents them.

Feishu counts its rate limits per API, so the task calls have their own windows (the same
headroom under Tasks' documented 50/s and 1000/min as messages have under theirs) and
never take budget from chat answers."""

from __future__ import annotations

from bot.feishu.gateway import FeishuError, FeishuGateway
from bot.feishu.limits import SendLimits
from bot.feishu.sdk import load as load_sdk

RECEIVER = None  # no per-receiver window: the API's own windows are the limit
USER_ID_TYPE = "open_id"
TASK_GONE = (1470404,)  # "the resource … does not exist or has been deleted"


def _members(members: list[dict]):
    load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
    from lark_oapi.api.task.v2 import Member

    return [
        Member.builder().id(m["id"]).type(m.get("type", "user")).role(m["role"]).build()
        for m in members
    ]


def _input_task(task: dict):
    load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
    from lark_oapi.api.task.v2 import Due, InputTask

    b = InputTask.builder()
    if "summary" in task:
        b.summary(task["summary"])
    if "description" in task:
        b.description(task["description"])
    if task.get("due") is not None:
        due = task["due"]
        b.due(Due.builder().timestamp(due["timestamp"]).is_all_day(due["is_all_day"]).build())
    if "completed_at" in task:
        b.completed_at(task["completed_at"])  # a string of ms, like due.timestamp
    if "members" in task:
        b.members(_members(task["members"]))
    if "client_token" in task:
        b.client_token(task["client_token"])
    return b.build()


class FeishuTasks:
    def __init__(self, gateway: FeishuGateway, limits: SendLimits | None = None) -> None:
        self.gateway = gateway
        self.limits = limits or SendLimits(per_second=40, per_minute=975)

    @property
    def _api(self):
        return self.gateway.client.task.v2.task

    async def create(self, body: dict) -> str:
        """POST /open-apis/task/v2/tasks; returns the task's guid. A repeated client_token
        gets the task the first call created."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.task.v2 import CreateTaskRequest

        req = (
            CreateTaskRequest.builder()
            .user_id_type(USER_ID_TYPE)
            .request_body(_input_task(body))
            .build()
        )
        resp = await self.gateway.call(
            lambda o: self._api.acreate(req, o),
            what="task.create",
            receiver=RECEIVER,
            limits=self.limits,
        )
        return resp.data.task.guid

    async def patch(self, guid: str, task: dict, update_fields: list[str]) -> None:
        """PATCH /open-apis/task/v2/tasks/{guid}: only `update_fields` change."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.task.v2 import PatchTaskRequest, PatchTaskRequestBody

        body = (
            PatchTaskRequestBody.builder()
            .task(_input_task(task))
            .update_fields(list(update_fields))
            .build()
        )
        req = (
            PatchTaskRequest.builder()
            .task_guid(guid)
            .user_id_type(USER_ID_TYPE)
            .request_body(body)
            .build()
        )
        await self.gateway.call(
            lambda o: self._api.apatch(req, o),
            what="task.patch",
            receiver=RECEIVER,
            limits=self.limits,
        )

    async def add_members(self, guid: str, members: list[dict]) -> None:
        """POST /open-apis/task/v2/tasks/{guid}/add_members."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.task.v2 import AddMembersTaskRequest, AddMembersTaskRequestBody

        body = AddMembersTaskRequestBody.builder().members(_members(members)).build()
        req = (
            AddMembersTaskRequest.builder()
            .task_guid(guid)
            .user_id_type(USER_ID_TYPE)
            .request_body(body)
            .build()
        )
        await self.gateway.call(
            lambda o: self._api.aadd_members(req, o),
            what="task.add_members",
            receiver=RECEIVER,
            limits=self.limits,
        )

    async def remove_members(self, guid: str, members: list[dict]) -> None:
        """POST /open-apis/task/v2/tasks/{guid}/remove_members."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.task.v2 import RemoveMembersTaskRequest, RemoveMembersTaskRequestBody

        body = RemoveMembersTaskRequestBody.builder().members(_members(members)).build()
        req = (
            RemoveMembersTaskRequest.builder()
            .task_guid(guid)
            .user_id_type(USER_ID_TYPE)
            .request_body(body)
            .build()
        )
        await self.gateway.call(
            lambda o: self._api.aremove_members(req, o),
            what="task.remove_members",
            receiver=RECEIVER,
            limits=self.limits,
        )

    async def delete(self, guid: str) -> None:
        """DELETE /open-apis/task/v2/tasks/{guid} (a cancelled duty leaves Feishu too)."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.task.v2 import DeleteTaskRequest

        req = DeleteTaskRequest.builder().task_guid(guid).build()
        await self.gateway.call(
            lambda o: self._api.adelete(req, o),
            what="task.delete",
            receiver=RECEIVER,
            limits=self.limits,
        )

    async def get(self, guid: str) -> dict | None:
        """GET /open-apis/task/v2/tasks/{guid}: what Feishu holds now ({"completed_at": ms
        string, "0" when open; "assignees": [open_id, …]}), None when the task is gone."""
        load_sdk()  # lark-oapi's submodules only (bot.feishu.sdk)
        from lark_oapi.api.task.v2 import GetTaskRequest

        req = GetTaskRequest.builder().task_guid(guid).user_id_type(USER_ID_TYPE).build()
        try:
            resp = await self.gateway.call(
                lambda o: self._api.aget(req, o),
                what="task.get",
                receiver=RECEIVER,
                limits=self.limits,
            )
        except FeishuError as e:
            if e.status == 404 or e.code in TASK_GONE:
                return None
            raise
        task = resp.data.task
        members = task.members or []
        return {
            "completed_at": task.completed_at or "0",
            "assignees": [m.id for m in members if m.role == "assignee" and m.id],
        }
