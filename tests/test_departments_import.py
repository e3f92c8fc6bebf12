"""The team from the Feishu directory when the deployment has several departments: nobody
is placed in a department by a guess. `dutybot org import` without `--into` names the
departments and writes nothing; "导入本群成员" imports into the group's own department
(the asking admin's), and a group that belongs to no department gets an answer saying how
to give it one. Through the CLI in-process, signed webhooks and the emulator's directory."""

from __future__ import annotations

import asyncio
import json

from sqlmodel import select

from storage.models import Member
from tests import feishu_events as fe
from tests.conftest import run_cli_in
from tests.test_departments import company  # noqa: F401 - the fixture
from tests.test_org_import import feishu_env
from tests.test_team_import_chat import find

SALES_DEPT = "od-sales"
NEWCOMERS = [  # open_id, name, job title
    ("ou_new_rep", "韩销售", "销售代表"),
    ("ou_new_mgr", "Lin", "Sales Manager"),
]


def directory(emulator, chat_id: str) -> None:
    for open_id, name, title in NEWCOMERS:
        emulator.add_user(open_id, name, job_title=title)
    emulator.add_department(SALES_DEPT, "销售部", members=[p[0] for p in NEWCOMERS])
    emulator.set_chat_members(chat_id, [p[0] for p in NEWCOMERS])


async def members(harness) -> dict[str, tuple[str, str]]:
    async with harness.bot.sessions() as session:
        rows = (await session.exec(select(Member).where(Member.active))).all()
    return {m.open_id: (m.department, m.role_key) for m in rows}


async def test_org_import_asks_which_department_and_writes_nothing(harness, company):  # noqa: F811
    directory(harness.emulator, "oc_sales")
    env = feishu_env(harness.emulator)
    before = await members(harness)

    async def run(*args: str):
        env["DATABASE_URL"] = harness.bot.settings.database_url
        return await asyncio.to_thread(run_cli_in, company, "org", "import", *args, env=env)

    guess = await run("--department", SALES_DEPT)
    assert guess.returncode == 2
    assert "several departments" in guess.stderr and "--into KEY" in guess.stderr
    assert "marketing (市场部)" in guess.stderr and "sales (销售部)" in guess.stderr
    assert "nothing was written" in guess.stderr and "Traceback" not in guess.stderr
    assert not harness.emulator.requests_for("contact.user.find_by_department")  # not read
    review = await run("--department", SALES_DEPT, "--write", "sales-team.toml")
    assert review.returncode == 2 and "several departments" in review.stderr
    assert not (company / "sales-team.toml").exists()
    assert await members(harness) == before

    placed = await run("--department", SALES_DEPT, "--into", "sales")
    assert placed.returncode == 0, placed.stderr
    team = await members(harness)
    assert team["ou_new_rep"] == ("sales", "rep") and team["ou_new_mgr"] == ("sales", "manager")

    # a file for review names the department, so it can go into the team file as it is
    written = await run("--department", SALES_DEPT, "--into", "sales", "--write", "s.toml")
    assert written.returncode == 0, written.stderr
    assert 'department = "sales"' in (company / "s.toml").read_text(encoding="utf-8")
    unknown = await run("--department", SALES_DEPT, "--into", "hr")
    assert unknown.returncode == 2 and "marketing, sales" in unknown.stderr


async def say_in(harness, chat_id: str, text: str, sender: str) -> str:
    before = len(harness.emulator.messages)
    await harness.say(
        f"@_user_1 {text}",
        sender,
        chat_type="group",
        chat_id=chat_id,
        mentions=[fe.bot_mention()],
    )
    sent = harness.emulator.messages[before:]
    return json.dumps([m.content for m in sent], ensure_ascii=False)


async def test_the_chat_import_uses_the_groups_department(harness, company):  # noqa: F811
    directory(harness.emulator, "oc_sales")
    harness.emulator.set_chat_members("oc_elsewhere", [p[0] for p in NEWCOMERS])
    before = await members(harness)

    # a group that belongs to no department: say how to give it one, add nobody
    answer = await say_in(harness, "oc_elsewhere", "导入本群成员", "ou_director")
    assert "不属于任何部门" in answer and "marketing 市场部" in answer and "sales 销售部" in answer
    assert "--into" in answer and "oc_elsewhere" in answer
    answer = await say_in(harness, "oc_elsewhere", "import members", "ou_director")
    assert "belongs to no department" in answer
    # marketing's admin in sales' team chat: that is sales' admin's to do
    answer = await say_in(harness, "oc_sales", "导入本群成员", "ou_director")
    assert "这个群属于销售部" in answer
    assert await members(harness) == before
    assert not harness.emulator.requests_for("im.chat.members.get")

    # sales' admin in sales' chat: the newcomers join sales, with sales' roles
    harness.emulator.add_user("ou_new_intern", "小实", job_title="实习生")
    harness.emulator.set_chat_members("oc_sales", [p[0] for p in NEWCOMERS] + ["ou_new_intern"])
    answer = await say_in(harness, "oc_sales", "导入本群成员", "ou_s_director")
    assert "已导入本群成员" in answer and "韩销售：销售代表" in answer
    team = await members(harness)
    assert team["ou_new_rep"] == ("sales", "rep") and team["ou_new_mgr"] == ("sales", "manager")

    # the card's role select: sales' roles; only sales' admin may assign from it
    card = harness.emulator.messages_to("oc_sales")[-1].card
    (select_el,) = find(card, "select_static")
    assert {o["value"] for o in select_el["options"]} == {"director", "manager", "rep"}
    (submit,) = [b for b in find(card, "button") if b.get("form_action_type")]
    value, form = submit["behaviors"][0]["value"], {select_el["name"]: "rep"}
    refused = await harness.click("ou_director", value, form_value=form, chat_id="oc_sales")
    assert refused["toast"]["type"] == "error" and "ou_new_intern" not in await members(harness)
    done = await harness.click("ou_s_director", value, form_value=form, chat_id="oc_sales")
    assert done["toast"]["type"] == "success"
    assert (await members(harness))["ou_new_intern"] == ("sales", "rep")
