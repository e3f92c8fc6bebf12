"""`dutybot policy diff OLD NEW`: what a changed policy would do to the live tasks."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from tests.conftest import TEAM_FILE

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "bot" / "policies" / "marketing.toml"


def _changed_policy(tmp_path: Path) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    # re-time the manager's weekly report: Friday 18:00 -> Monday 10:00
    head, tail = text.split('key = "manager.weekly_progress"', 1)
    tail = tail.replace('weekday = "fri"\ntime = "18:00"', 'weekday = "mon"\ntime = "10:00"', 1)
    text = head + 'key = "manager.weekly_progress"' + tail
    # drop the FAQ duty
    text = re.sub(r'\[\[duties\]\]\nkey = "brand\.faq".*?(?=\[\[duties\]\])', "", text, flags=re.S)
    # the monthly brand report renamed
    text = text.replace('name_zh = "《品牌传播月报》"', 'name_zh = "品牌月报"', 1)
    # a new weekly duty for customer relations
    text += (
        '\n[[duties]]\nkey = "crm.weekly_followups"\nrole = "crm"\nname_zh = "客户跟进周报"\n'
        'name_en = "Weekly follow-ups"\nclause = "每周五汇总客户跟进情况。"\n'
        '[duties.due]\nkind = "weekly"\nweekday = "fri"\n'
    )
    path = tmp_path / "new.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _open(db: Path, duty: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "select count(*) from tasks where duty_key = ? and status in "
            "('open', 'submitted', 'rejected')",
            (duty,),
        ).fetchone()[0]


def test_diff_counts_the_open_tasks_each_change_touches(run_cli, tmp_path):
    assert run_cli("org", "sync", str(TEAM_FILE)).returncode == 0
    db = tmp_path / "dutybot.db"
    weekly, faq = _open(db, "manager.weekly_progress"), _open(db, "brand.faq")
    assert weekly > 0 and faq > 0
    new = _changed_policy(tmp_path)

    result = run_cli("policy", "diff", str(SHIPPED), str(new))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "~ manager.weekly_progress (manager): due: " in out
    assert "-> " in out.split("~ manager.weekly_progress", 1)[1].splitlines()[0]
    assert f"{weekly} open task(s) keep their current due dates" in out
    assert "- brand.faq (brand)" in out
    assert f"{faq} open task(s) stay as they are; no new ones" in out
    assert "+ crm.weekly_followups (crm)" in out
    assert "tasks start for 1 active member(s) of role crm" in out
    monthly = _open(db, "brand.monthly_report")
    assert "~ brand.monthly_report (brand): renamed 《品牌传播月报》 -> 品牌月报" in out
    assert f"{monthly} open task(s) of this duty" in out
    assert "duties: 1 added, 1 removed, 1 re-timed, 1 changed" in out
    assert f"{weekly + faq + monthly} open task(s) touched" in out

    as_json = run_cli("policy", "diff", str(SHIPPED), str(new), "--json")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    by_key = {r["key"]: r for r in rows}
    assert by_key["manager.weekly_progress"]["kind"] == "retimed"
    assert by_key["manager.weekly_progress"]["open_tasks"] == weekly
    assert by_key["brand.faq"] == {**by_key["brand.faq"], "kind": "removed", "open_tasks": faq}
    # read-only: nothing in the database changed
    assert _open(db, "brand.faq") == faq


def test_diff_without_a_database_and_with_a_broken_file(run_cli, tmp_path):
    same = run_cli("policy", "diff", str(SHIPPED), str(SHIPPED))
    assert same.returncode == 0 and "no changes" in same.stdout
    assert "no database at" in same.stdout
    assert not (tmp_path / "dutybot.db").exists()  # a diff creates nothing
    bad = tmp_path / "bad.toml"
    bad.write_text('[policy]\nname = "x"\n', encoding="utf-8")
    broken = run_cli("policy", "diff", str(SHIPPED), str(bad))
    assert broken.returncode == 2 and "bad.toml" in broken.stderr
    assert "Traceback" not in broken.stderr
