"""Several departments in one deployment: a company rolls DutyBot out department by
department. The marketing department runs the shipped policy; sales joins with its own
small policy, whose role keys `director` and `manager` also exist in marketing. One team
file declares both; `dutybot org sync` loads it; each member gets their own department's
tasks, reports go to their own department's approver, reminders, escalations and digests
stay inside the department (end to end: the CLI, the scheduler's tick, signed webhooks,
the emulator)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
from datetime import UTC
from pathlib import Path

import pytest
from sqlmodel import select

from bot.jobs.scheduler import run_tick
from storage.models import Member, Report, Task
from tests.conftest import ROOT, run_cli_in
from tests.sched_helpers import at, outbox
from tests.test_reports import button_value, cards_to, text_of

DATA = Path(__file__).parent / "data" / "departments"

TEAM = """\
# Two departments, each with its own policy file (paths relative to this file).
[[departments]]
key = "marketing"
name = "市场部"
policy = "marketing.toml"

[[departments]]
key = "sales"
name = "销售部"
policy = "sales.toml"

# Members without `department` are in the first department (marketing).
[[members]]
open_id = "ou_director"
name = "周总监"
role = "director"
admin = true

[[members]]
open_id = "ou_manager"
name = "李经理"
role = "manager"

[[members]]
open_id = "ou_planner"
name = "王策划"
role = "planner"

[[members]]
open_id = "ou_s_director"
name = "钱总监"
role = "director"
department = "sales"
admin = true

[[members]]
open_id = "ou_s_manager"
name = "孙经理"
role = "manager"
department = "sales"

[[members]]
open_id = "ou_s_rep"
name = "郑销售"
role = "rep"
department = "sales"

[[chats]]
chat_id = "oc_team"
name = "市场部"
team = true

[[chats]]
chat_id = "oc_sales"
name = "销售部"
team = true
department = "sales"
"""

SALES = {"ou_s_director", "ou_s_manager", "ou_s_rep"}
MARKETING = {"ou_director", "ou_manager", "ou_planner"}


def write_team(folder: Path, text: str = TEAM) -> Path:
    shutil.copy(ROOT / "bot" / "policies" / "marketing.toml", folder / "marketing.toml")
    shutil.copy(DATA / "sales.toml", folder / "sales.toml")
    path = folder / "team.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def dutybot(harness, folder: Path, *args: str):
    """The console script against the harness's database (its own event loop, in a thread)."""
    env = {"DATABASE_URL": harness.bot.settings.database_url}
    return await asyncio.to_thread(run_cli_in, folder, *args, env=env)


@pytest.fixture
async def company(harness, tmp_path):
    """The test team (one department) becomes marketing, and sales joins: `org sync`, then
    the running bot's next tick picks the departments up."""
    team = write_team(tmp_path)
    result = await dutybot(harness, tmp_path, "org", "sync", str(team))
    assert result.returncode == 0, result.stderr
    assert "+ department sales (销售部)" in result.stdout
    assert "+ member 郑销售 (ou_s_rep) as rep in sales" in result.stdout
    report = await run_tick(harness.bot, harness.clock.now())
    assert not report.errors, report.errors
    assert harness.bot.services.policies.keys() == ("default", "marketing", "sales")
    await harness.settle()
    return tmp_path


async def open_tasks(harness) -> list[Task]:
    async with harness.bot.sessions() as session:
        stmt = select(Task).where(Task.status == "open")
        return list((await session.exec(stmt)).all())


def duties_of(tasks: list[Task], open_id: str) -> set[tuple[str, str]]:
    return {(t.department, t.duty_key) for t in tasks if t.assignee_open_id == open_id}


async def test_each_member_gets_their_own_departments_tasks(harness, company):
    tasks = await open_tasks(harness)
    # the same role key, different duties: each department's policy
    assert duties_of(tasks, "ou_s_manager") == {("sales", "manager.pipeline_review")}
    marketing_manager = duties_of(tasks, "ou_manager")
    assert ("marketing", "manager.weekly_progress") in marketing_manager
    assert all(dept == "marketing" for dept, _ in marketing_manager)
    assert ("sales", "rep.visit_report") in duties_of(tasks, "ou_s_rep")
    assert {d for d, _ in duties_of(tasks, "ou_s_director")} == {"sales"}
    assert ("sales", "director.monthly_forecast") in duties_of(tasks, "ou_s_director")
    # the marketing people's open tasks moved with them from the default department
    assert not any(t.department == "default" for t in tasks if t.assignee_open_id in MARKETING)
    async with harness.bot.sessions() as session:
        rep = await session.get(Member, "ou_s_rep")
        assert rep.department == "sales"

    # `tasks list --json` says which department each task is in
    result = await dutybot(harness, company, "tasks", "list", "--json")
    rows = json.loads(result.stdout)
    assert all("department" in r for r in rows)
    visit = next(r for r in rows if r["duty_key"] == "rep.visit_report")
    assert visit["department"] == "sales" and visit["duty_name"] == "客户拜访周报"
    assert visit["assignee_name"] == "郑销售"
    only_sales = await dutybot(harness, company, "tasks", "list", "--json", "--department", "sales")
    assert {r["assignee"] for r in json.loads(only_sales.stdout)} <= SALES

    # the Feishu Tasks mirror reads each task's duty in its department
    from storage.feishu_tasks import unmirrored

    async with harness.bot.sessions() as session:
        found = {(t.department, t.duty_key): d for t, d, _ in await unmirrored(session, 10_000)}
    assert found[("sales", "manager.pipeline_review")].name_zh == "销售漏斗周检"
    assert found[("marketing", "manager.weekly_progress")].name_zh == "项目进度周报"

    # re-running the sync changes nothing
    again = await dutybot(harness, company, "org", "sync", "team.toml")
    assert again.returncode == 0 and "no changes" in again.stdout


async def test_whats_due_shows_the_askers_department_duties(harness, company):
    await harness.say("待办", sender="ou_s_rep")
    text = text_of(cards_to(harness, "ou_s_rep")[-1].card)
    assert "客户拜访周报" in text and "销售代表" in text
    await harness.say("我是谁", sender="ou_s_manager")
    whoami = text_of(cards_to(harness, "ou_s_manager")[-1].card)
    assert "销售经理" in whoami and "钱总监" in whoami  # sales' manager reports to sales' director
    assert "**部门**：销售部" in whoami and "市场部" not in whoami  # and sales' team chat


async def test_a_sales_report_is_approved_by_the_sales_manager(harness, company):
    await harness.say("提交客户拜访周报\n拜访客户数: 12\n新增线索: 3", sender="ou_s_rep")
    async with harness.bot.sessions() as session:
        (report,) = (await session.exec(select(Report))).all()
    assert report.approver_open_id == "ou_s_manager"  # not marketing's manager
    approval = cards_to(harness, "ou_s_manager")[-1]
    assert "客户拜访周报" in text_of(approval.card) and "郑销售" in text_of(approval.card)
    assert not [m for m in cards_to(harness, "ou_manager") if "客户拜访" in text_of(m.card)]

    value = button_value(approval.card, "report.approve")
    for outsider in ("ou_manager", "ou_director"):  # marketing's manager, marketing's admin
        refused = await harness.click(
            outsider, value, message_id=approval.message_id, name="report_approve"
        )
        assert refused["toast"]["type"] == "error", outsider
    answer = await harness.click(
        "ou_s_manager", value, message_id=approval.message_id, name="report_approve"
    )
    assert answer["toast"]["type"] == "success"
    async with harness.bot.sessions() as session:
        report = await session.get(Report, report.id)
        assert report.status == "approved" and report.decided_by == "ou_s_manager"


async def test_reminders_escalations_and_digests_stay_inside_the_department(harness, company):
    bot = harness.bot
    # The sales manager's pipeline review (Fri 27 Nov, 17:00) is one working day late on
    # Monday: he and his manager, the sales director, hear of it; marketing's do not.
    before = max([r.id for r in await outbox(bot)], default=0)
    monday = at(2026, 11, 30, 10)
    harness.clock.set(monday)
    await run_tick(bot, monday.astimezone(UTC))
    sent = await outbox(bot, after_id=before)
    about_pipeline = {r.receive_id for r in sent if "销售漏斗周检" in r.content}
    assert about_pipeline == {"ou_s_manager", "ou_s_director"}

    # The weekly digests on Friday 17:00: each team chat gets its own department's.
    before = max([r.id for r in await outbox(bot)], default=0)
    friday = at(2026, 12, 4, 17)
    harness.clock.set(friday)
    await run_tick(bot, friday.astimezone(UTC))
    digests = {r.receive_id: r.content for r in await outbox(bot, after_id=before)}
    digests = {k: v for k, v in digests.items() if k in ("oc_team", "oc_sales")}
    assert set(digests) == {"oc_team", "oc_sales"}
    assert "郑销售" in digests["oc_sales"] and "李经理" not in digests["oc_sales"]
    assert "李经理" in digests["oc_team"] and "郑销售" not in digests["oc_team"]


async def test_policy_show_and_check_for_a_department(harness, company):
    check = await dutybot(harness, company, "policy", "check", "--department", "sales")
    assert check.returncode == 0, check.stderr
    assert "sales.toml: OK (3 roles, 4 duties)" in check.stdout
    show = await dutybot(
        harness, company, "policy", "show", "--department", "sales", "--lang", "en"
    )
    assert show.returncode == 0 and "Sales Representative" in show.stdout
    assert "Marketing Planning Specialist" not in show.stdout
    from_file = await dutybot(
        harness, company, "policy", "check", "--department", "marketing", "--team", "team.toml"
    )
    assert from_file.returncode == 0 and "marketing.toml: OK (7 roles" in from_file.stdout
    unknown = await dutybot(harness, company, "policy", "check", "--department", "hr")
    assert unknown.returncode == 2
    assert "unknown department 'hr'" in unknown.stderr and "marketing, sales" in unknown.stderr


async def test_an_unknown_department_is_an_error_with_its_line_and_nothing_is_written(
    harness, tmp_path
):
    typo = TEAM.replace('role = "rep"\ndepartment = "sales"', 'role = "rep"\ndepartment = "sale"')
    team = write_team(tmp_path, typo)
    line = typo.splitlines().index('open_id = "ou_s_rep"')  # the [[members]] line before it
    result = await dutybot(harness, tmp_path, "org", "sync", str(team))
    assert result.returncode == 2
    assert f"members[6] (line {line}) ou_s_rep: unknown department 'sale'" in result.stderr
    assert "(one of marketing, sales)" in result.stderr and "Traceback" not in result.stderr
    async with harness.bot.sessions() as session:
        assert await session.get(Member, "ou_s_director") is None  # no partial write
        planner = await session.get(Member, "ou_planner")
        assert planner.department == "default"


async def test_a_role_is_checked_against_its_own_departments_policy(harness, tmp_path):
    wrong = TEAM.replace('role = "rep"', 'role = "planner"')  # a marketing role, in sales
    result = await dutybot(harness, tmp_path, "org", "sync", str(write_team(tmp_path, wrong)))
    assert result.returncode == 2
    assert "unknown role 'planner' in department sales (one of director, manager, rep)" in (
        result.stderr
    )


async def test_export_writes_the_departments_back(harness, company):
    result = await dutybot(harness, company, "org", "export", "exported.toml")
    assert result.returncode == 0, result.stderr
    text = (company / "exported.toml").read_text(encoding="utf-8")
    assert "[[departments]]" in text and 'department = "sales"' in text
    again = await dutybot(harness, company, "org", "sync", "exported.toml")
    assert again.returncode == 0 and "no changes" in again.stdout, again.stdout


async def test_the_ledger_names_each_departments_duties_and_roles(harness, company):
    result = await dutybot(harness, company, "ledger", "export", "ledger.csv", "--lang", "zh")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO((company / "ledger.csv").read_text("utf-8-sig"))))
    visit = next(r for r in rows if r["职责代号"] == "rep.visit_report")
    assert visit["职责"] == "客户拜访周报" and visit["岗位"] == "销售代表"
    pipeline = next(r for r in rows if r["职责代号"] == "manager.pipeline_review")
    assert pipeline["岗位"] == "销售经理"  # not marketing's 市场经理


async def test_the_ledger_finds_a_role_in_its_own_department(harness, company):
    async def ledger(*args: str) -> tuple[int, list[dict], str]:
        out = company / "role.csv"
        out.unlink(missing_ok=True)
        result = await dutybot(harness, company, "ledger", "export", "role.csv", *args)
        if result.returncode:
            assert not out.exists() and "Traceback" not in result.stderr
            return result.returncode, [], result.stderr
        rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"))))
        return 0, rows, result.stderr

    # "manager" is a role key in both departments: say which one
    code, _, err = await ledger("--role", "manager")
    assert code == 2
    assert "role 'manager' is in several departments: marketing (市场经理), sales (销售经理)" in err
    assert "--department KEY" in err
    # a name only one department uses is enough; or the key with --department
    for args in (("--role", "销售经理"), ("--role", "manager", "--department", "sales")):
        code, rows, err = await ledger(*args)
        assert code == 0, err
        assert rows and {r["duty_key"] for r in rows} == {"manager.pipeline_review"}
        assert {r["assignee_open_id"] for r in rows} == {"ou_s_manager"}
    code, rows, _ = await ledger("--role", "Marketing Manager")
    assert code == 0 and rows and {r["assignee_open_id"] for r in rows} == {"ou_manager"}
    assert "manager.pipeline_review" not in {r["duty_key"] for r in rows}
    code, rows, _ = await ledger("--department", "sales")
    assert code == 0 and {r["assignee_open_id"] for r in rows} == SALES
    # unknown: the department, a role outside the department, a role nobody has
    code, _, err = await ledger("--department", "hr")
    assert code == 2 and "unknown department 'hr' (departments: marketing, sales)" in err
    code, _, err = await ledger("--role", "rep", "--department", "marketing")
    assert code == 2 and "unknown role 'rep' (roles: marketing: director, manager" in err
    code, _, err = await ledger("--role", "janitor")
    assert code == 2 and "unknown role 'janitor'" in err and "sales: director, manager, rep" in err


async def test_an_admin_changes_only_their_own_departments_team(harness, company):
    from tests import feishu_events as fe
    from tests.test_team_chat import mention

    async def in_sales_chat(text: str, sender: str, person: tuple[str, str]):
        mentions = [fe.bot_mention("@_user_1"), mention("@_user_2", *person)]
        body = "@_user_1 " + text.format("@_user_2")
        await harness.say(
            body, sender=sender, chat_type="group", chat_id="oc_sales", mentions=mentions
        )

    # sales' admin adds a newcomer: to sales, with sales' role names and tasks
    await in_sales_chat("绑定 {} 销售代表", "ou_s_director", ("ou_newrep", "冯新人"))
    async with harness.bot.sessions() as session:
        newcomer = await session.get(Member, "ou_newrep")
        assert newcomer.department == "sales" and newcomer.role_key == "rep"
    tasks = await open_tasks(harness)
    assert ("sales", "rep.visit_report") in duties_of(tasks, "ou_newrep")
    # ... but may not remove marketing's manager
    await in_sales_chat("移除 {}", "ou_s_director", ("ou_manager", "李经理"))
    answer = harness.emulator.messages_to("oc_sales")[-1]
    assert "另一个部门" in json.dumps(answer.content, ensure_ascii=False)
    async with harness.bot.sessions() as session:
        assert (await session.get(Member, "ou_manager")).active


async def test_without_departments_everything_is_in_the_default_one(harness, tmp_path):
    result = await dutybot(harness, tmp_path, "tasks", "list", "--json")
    rows = json.loads(result.stdout)
    assert rows and {r["department"] for r in rows} == {"default"}
    assert harness.bot.services.policies.is_single
    unknown = TEAM.split("[[members]]", 1)[1].replace('department = "sales"', 'department = "x"')
    team = tmp_path / "team.toml"
    team.write_text("[[members]]" + unknown, encoding="utf-8")
    result = await dutybot(harness, tmp_path, "org", "sync", str(team))
    assert result.returncode == 2
    assert "unknown department 'x' (the file declares no [[departments]])" in result.stderr


async def test_a_complaint_logged_in_sales_goes_to_sales_own_duty(harness, company):
    await harness.say("投诉：客户说报价单金额有误", sender="ou_s_rep")
    async with harness.bot.sessions() as session:
        stmt = select(Task).where(Task.period_key.startswith("msg:"))
        (task,) = (await session.exec(stmt)).all()
    # sales' complaint trigger starts sales' duty, for sales' manager (not marketing's crm)
    assert (task.department, task.duty_key) == ("sales", "manager.complaint_followup")
    assert task.assignee_open_id == "ou_s_manager"
    owner_card = text_of(cards_to(harness, "ou_s_manager")[-1].card)
    assert "客户投诉跟进" in owner_card and "郑销售" in owner_card


async def test_policy_diff_counts_one_departments_live_tasks(harness, company):
    changed = (company / "sales.toml").read_text(encoding="utf-8")
    changed = changed.replace('weekday = "fri"\ntime = "17:00"', 'weekday = "thu"\ntime = "17:00"')
    (company / "sales-next.toml").write_text(changed, encoding="utf-8")
    args = ("policy", "diff", "sales.toml", "sales-next.toml", "--json", "--department", "sales")
    result = await dutybot(harness, company, *args)
    assert result.returncode == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["kind"], row["key"]) == ("retimed", "manager.pipeline_review")
    tasks = await open_tasks(harness)
    assert row["open_tasks"] == len(
        [t for t in tasks if (t.department, t.duty_key) == ("sales", "manager.pipeline_review")]
    )
    assert row["members"] == 1  # sales' one manager, not marketing's as well
