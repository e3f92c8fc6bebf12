"""The `dutybot` command as an admin uses it: in-process runs of `main(argv)` with a clean
environment, in a fresh directory (a subprocess only where a fresh interpreter is the point)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEAM_FILE

ROOT = Path(__file__).resolve().parent.parent


def test_policy_show_lists_roles_and_duties_in_both_languages(run_cli):
    zh = run_cli("policy", "show")
    assert zh.returncode == 0, zh.stderr
    for text in (
        "市场总监 / Marketing Director",
        "市场策划专员",
        "客户关系专员",
        "《活动执行报告》",
        "活动结束后3个工作日内",
    ):
        assert text in zh.stdout
    en = run_cli("policy", "show", "--lang", "en")
    assert "within 3 working days after the activity ends" in en.stdout
    assert "inferred default, editable" in en.stdout


def test_policy_check_reports_errors_by_field(run_cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[policy]\nname = "x"\nname_en = "x"\n'
        '[[roles]]\nkey = "boss"\nname_zh = "老板"\nname_en = "Boss"\nreports_to = "nobody"\n'
        '[[duties]]\nkey = "boss.report"\nrole = "ghost"\nname_zh = "报告"\nname_en = "Report"\n'
        'clause = "x"\n[duties.due]\nkind = "weekly"\nweekday = "fry"\n',
        encoding="utf-8",
    )
    result = run_cli("policy", "check", str(bad))
    assert result.returncode == 1
    for needle in ("roles[0].reports_to", "duties[0].role", "duties[0].due.weekday"):
        assert needle in result.stderr
    assert "Traceback" not in result.stderr
    ok = run_cli("policy", "check", str(ROOT / "bot" / "policies" / "marketing.toml"))
    assert ok.returncode == 0 and "7 roles" in ok.stdout


def test_policy_commands_do_not_import_lark_oapi(tmp_path):
    code = (
        "import sys; from bot.cli.main import main; main(['policy', 'show']);"
        "assert 'lark_oapi' not in sys.modules, 'lark_oapi was imported'"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "DUTYBOT_"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_org_sync_is_idempotent_and_says_what_changed(run_cli, tmp_path):
    first = run_cli("org", "sync", str(TEAM_FILE))
    assert first.returncode == 0, first.stderr
    assert "+ member 李经理 (ou_manager) as manager" in first.stdout
    assert "periodic tasks created" in first.stdout
    again = run_cli("org", "sync", str(TEAM_FILE))
    assert "no changes" in again.stdout and "0 periodic tasks created" in again.stdout
    moved = tmp_path / "team.toml"
    moved.write_text(
        TEAM_FILE.read_text(encoding="utf-8").replace('role = "research"', 'role = "digital"'),
        encoding="utf-8",
    )
    third = run_cli("org", "sync", str(moved))
    assert "~ member 孙调研 (ou_research): role_key 'research' → 'digital'" in third.stdout
    db = sqlite3.connect(tmp_path / "dutybot.db")
    assert db.execute("select count(*) from members").fetchone()[0] == 7
    assert (
        db.execute("select count(*) from audit_log where action like 'member.%'").fetchone()[0] == 8
    )


def test_org_sync_with_errors_writes_nothing(run_cli, tmp_path):
    bad = tmp_path / "team.toml"
    bad.write_text(
        '[[members]]\nopen_id = "ou_a"\nname = "A"\nrole = "manager"\n\n'
        '[[members]]\nopen_id = "ou_b"\nname = "B"\nrole = "wizard"\nmanager = "ou_nobody"\n\n'
        '[[members]]\nopen_id = "ou_a"\nname = "A again"\nrole = "planner"\nrol = "x"\n',
        encoding="utf-8",
    )
    result = run_cli("org", "sync", str(bad))
    assert result.returncode == 2
    err = result.stderr
    assert "members[2] (line 6) ou_b: unknown role 'wizard'" in err
    assert "members[2] (line 6) ou_b: manager ou_nobody is not a member" in err
    assert "members[3] (line 12): duplicate open_id ou_a" in err
    assert "unknown key 'rol'" in err
    assert "nothing was written" in err
    assert (
        not (tmp_path / "dutybot.db").exists()
        or sqlite3.connect(tmp_path / "dutybot.db")
        .execute("select count(*) from members")
        .fetchone()[0]
        == 0
    )


def test_bad_settings_give_one_clear_message(run_cli):
    result = run_cli("run", env={"FEISHU_APP_ID": "cli_x", "DUTYBOT_PORT": "http"})
    assert result.returncode == 2
    assert "FEISHU_APP_SECRET is missing" in result.stderr and "DUTYBOT_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_settings_come_from_dotenv(run_cli, tmp_path):
    (tmp_path / ".env").write_text("DUTYBOT_TRANSPORT=pigeon\n", encoding="utf-8")
    result = run_cli("run")
    assert result.returncode == 2 and "DUTYBOT_TRANSPORT='pigeon'" in result.stderr


def test_db_upgrade_on_a_fresh_database(run_cli, tmp_path):
    result = run_cli("db", "upgrade")
    assert result.returncode == 0, result.stderr
    from storage.db import head_revision

    assert f"empty → {head_revision()}" in result.stdout
    tables = {
        r[0]
        for r in sqlite3.connect(tmp_path / "dutybot.db").execute("select name from sqlite_master")
    }
    assert {
        "members",
        "tasks",
        "inbound_events",
        "outbound_messages",
        "audit_log",
        "duties",
        "roles",
    } <= tables


def test_a_closed_pipe_ends_quietly(monkeypatch, tmp_path):
    """`dutybot policy show | head`: the reader goes away; exit 0, no traceback."""
    import io

    from bot.cli import main

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert main(["policy", "show"]) == 0


def test_bad_arguments_are_a_usage_line_and_exit_2(run_cli):
    result = run_cli("leave", "add", "ou_x", "tomorrow")
    assert result.returncode == 2
    assert "'tomorrow' is not a date (YYYY-MM-DD)" in result.stderr
    assert "Traceback" not in result.stderr
