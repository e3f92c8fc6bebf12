"""The team from the Feishu directory: the emulator's contact endpoints as the real SDK
calls them, and `dutybot org import` as an admin runs it."""

from __future__ import annotations

import sqlite3

import aiohttp
import pytest

from bot.clock import FixedClock
from bot.domain.directory import Person, match_role, plan_import
from bot.domain.policy import load_policy
from bot.feishu.directory import Directory
from bot.feishu.gateway import FeishuError, FeishuGateway
from storage.org import load_team_file
from tests import feishu_events as fe
from tests.conftest import NOW

DEPT = "od-marketing"
CHAT = "oc_import_team"
PEOPLE = [  # open_id, name, job title
    ("ou_imp_director", "周总监", "市场总监"),
    ("ou_imp_manager", "李经理", "Marketing Manager"),
    ("ou_imp_planner", "王策划", "高级市场策划专员"),
    ("ou_imp_brand", "陈品牌", "品牌运营专员"),
    ("ou_imp_intern", "小刘", "实习生"),
    ("ou_imp_blank", "无职务", ""),
]
CHAT_ONLY = [
    ("ou_imp_crm", "吴客户", "客户关系专员"),
    ("ou_imp_digital", "Zhao", "Digital Marketing Specialist"),
]


@pytest.fixture
def directory_data(emulator):
    for open_id, name, title in PEOPLE + CHAT_ONLY:
        emulator.add_user(open_id, name, job_title=title, en_name=name)
    emulator.add_user("ou_imp_left", "已离职", job_title="市场经理", status={"is_resigned": True})
    emulator.add_department(
        DEPT,
        "市场部",
        leader="ou_imp_director",
        members=[p[0] for p in PEOPLE] + ["ou_imp_left"],
    )
    emulator.set_chat_members(CHAT, ["ou_imp_manager", *[p[0] for p in CHAT_ONLY]])
    return emulator


@pytest.fixture
async def directory(emulator):
    gateway = FeishuGateway(emulator.base_url, fe.APP_ID, fe.APP_SECRET, FixedClock(NOW))
    yield Directory(gateway, users_page=2, members_page=2)  # small pages: paging is exercised
    await gateway.close()


def feishu_env(emulator) -> dict:
    return {
        "FEISHU_APP_ID": fe.APP_ID,
        "FEISHU_APP_SECRET": fe.APP_SECRET,
        "FEISHU_VERIFICATION_TOKEN": fe.VERIFICATION_TOKEN,
        "FEISHU_ENCRYPT_KEY": fe.ENCRYPT_KEY,
        "FEISHU_DOMAIN": emulator.base_url,
    }


# -- role from job title ---------------------------------------------------------------


def test_job_titles_give_roles_in_either_language():
    roles = load_policy(None).roles.values()
    assert match_role("市场总监", roles) == ("director", ())
    assert match_role(" marketing  manager ", roles) == ("manager", ())
    assert match_role("高级市场策划专员", roles) == ("planner", ())  # contains the role name
    assert match_role("Senior Market Research Specialist", roles) == ("research", ())
    assert match_role("实习生", roles) == (None, ())
    assert match_role("", roles) == (None, ())
    key, candidates = match_role("品牌运营专员兼数字营销专员", roles)
    assert key is None and candidates == ("brand", "digital")  # two roles fit: ask a human


def test_the_plan_places_each_person_once_and_lists_the_rest():
    roles = load_policy(None).roles
    people = [Person("ou_a", "A", "市场经理"), Person("ou_b", "B", "司机"), Person("ou_a", "A")]
    plan = plan_import(people, roles, leader_open_id="ou_a")
    assert [(p.person.open_id, p.role, p.admin) for p in plan.placed] == [("ou_a", "manager", True)]
    assert [(u.person.open_id, u.reason) for u in plan.unplaced] == [("ou_b", "no_match")]


# -- the emulator's directory through the SDK -------------------------------------------


async def test_department_members_and_leader_through_every_page(directory_data, directory):
    dept = await directory.department(DEPT)
    assert (dept.name, dept.leader_open_id) == ("市场部", "ou_imp_director")
    people = await directory.department_people(DEPT)
    assert [p.open_id for p in people] == [p[0] for p in PEOPLE]  # the resigned one is left out
    assert people[2].job_title == "高级市场策划专员"
    pages = directory_data.requests_for("contact.user.find_by_department")
    assert len(pages) == 4 and all(r["status"] == 200 for r in pages)  # 7 people, 2 a page
    first = pages[0]["query"]
    assert first["department_id_type"] == "open_department_id"
    assert first["user_id_type"] == "open_id" and first["page_size"] == "2"
    assert "page_token" not in first and pages[1]["query"]["page_token"]


async def test_chat_members_then_users_in_a_batch(directory_data, directory):
    ids = await directory.chat_member_ids(CHAT)
    assert ids == ["ou_imp_manager", "ou_imp_crm", "ou_imp_digital"]
    assert len(directory_data.requests_for("im.chat.members.get")) == 2
    people = await directory.people([*ids, "ou_unknown"])
    assert [(p.open_id, p.job_title) for p in people] == [
        ("ou_imp_manager", "Marketing Manager"),
        ("ou_imp_crm", "客户关系专员"),
        ("ou_imp_digital", "Digital Marketing Specialist"),
    ]
    (batch,) = directory_data.requests_for("contact.user.batch")
    assert batch["path"] == "/open-apis/contact/v3/users/batch"


async def test_directory_errors_are_feishus_codes(directory_data, directory):
    with pytest.raises(FeishuError) as err:
        await directory.department("od-elsewhere")
    assert err.value.code == 40004
    with pytest.raises(FeishuError) as err:
        await directory.chat_member_ids("oc_not_a_chat")
    assert err.value.code == 232006
    token = directory_data.issue_tenant_token()
    base = directory_data.base_url + "/open-apis/contact/v3/users/find_by_department"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        for query, code in (
            ({"department_id": DEPT, "page_size": "51"}, 40011),
            ({"department_id": DEPT, "page_token": "bm90LWEtdG9rZW4="}, 40012),
            ({"page_size": "10"}, 99992402),
        ):
            async with http.get(base, params=query) as resp:
                assert (await resp.json())["code"] == code, query


# -- dutybot org import -------------------------------------------------------------------


def test_org_import_adds_people_by_title_and_a_second_run_changes_nothing(
    directory_data, run_cli, tmp_path
):
    env = feishu_env(directory_data)
    first = run_cli("org", "import", "--department", DEPT, "--chat", CHAT, env=env)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "department 市场部 (od-marketing) and chat oc_import_team: 8 people" in out
    assert "周总监 (ou_imp_director): 市场总监 / Marketing Director, admin" in out
    assert "2 need a role (not added):" in out
    assert "小刘 (ou_imp_intern): title “实习生” matches no role" in out
    assert "无职务 (ou_imp_blank): no job title in the directory" in out
    assert "+ member 王策划 (ou_imp_planner) as planner" in out
    db = sqlite3.connect(tmp_path / "dutybot.db")
    rows = db.execute("SELECT open_id, role_key, is_admin FROM members ORDER BY open_id").fetchall()
    assert rows == [
        ("ou_imp_brand", "brand", 0),
        ("ou_imp_crm", "crm", 0),
        ("ou_imp_digital", "digital", 0),
        ("ou_imp_director", "director", 1),
        ("ou_imp_manager", "manager", 0),
        ("ou_imp_planner", "planner", 0),
    ]
    again = run_cli("org", "import", "--department", DEPT, "--chat", CHAT, env=env)
    assert again.returncode == 0, again.stderr
    assert "no changes" in again.stdout and "0 periodic tasks created" in again.stdout


def test_org_import_write_makes_a_team_file_and_touches_no_database(
    directory_data, run_cli, tmp_path
):
    out = tmp_path / "team.toml"
    result = run_cli(
        "org", "import", "--department", DEPT, "--write", str(out), env=feishu_env(directory_data)
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 4 members" in result.stdout and "database is unchanged" in result.stdout
    assert not (tmp_path / "dutybot.db").exists()
    text = out.read_text(encoding="utf-8")
    assert '# open_id = "ou_imp_intern"' in text  # listed for review, not added
    team = load_team_file(out, set(load_policy(None).roles))
    assert {(m.open_id, m.role, m.admin) for m in team.members} == {
        ("ou_imp_director", "director", True),
        ("ou_imp_manager", "manager", False),
        ("ou_imp_planner", "planner", False),
        ("ou_imp_brand", "brand", False),
    }
    synced = run_cli("org", "sync", str(out))
    assert (
        synced.returncode == 0 and "+ member 周总监 (ou_imp_director) as director" in synced.stdout
    )


def test_org_import_bad_input_is_a_clear_message(directory_data, run_cli):
    missing = run_cli("org", "import")
    assert missing.returncode == 2 and "--department DEPT_ID and/or --chat" in missing.stderr
    offline = run_cli("org", "import", "--department", DEPT)
    assert offline.returncode == 2 and "FEISHU_APP_ID" in offline.stderr
    unknown = run_cli("org", "import", "--department", "od-x", env=feishu_env(directory_data))
    assert unknown.returncode == 2
    assert "40004" in unknown.stderr and "contact scope" in unknown.stderr
    assert "Traceback" not in unknown.stderr
