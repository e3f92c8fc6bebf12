"""`dutybot ledger export`: one row per task (duty, role, assignee, period, due, status,
delivered, on time, report status, approver, decision, KPI misses, clause) as CSV that
Excel opens (UTF-8 BOM) or .xlsx; filters by due date, role and person; bad input is one
line and exit code 2, and never leaves a partial file. Run in-process (its own event loop
in a worker thread, like the console script)."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from openpyxl import load_workbook

from bot.cli.main import main as dutybot_main
from storage.models import Member
from tests.test_digests import week_49


@pytest.fixture
async def ledger(harness, tmp_path, monkeypatch):
    """The digest tests' week 49 in the database, and a way to run the CLI against it."""
    tasks = await week_49(harness.bot)
    async with harness.bot.sessions() as s:  # a departed member keeps their name
        (await s.get(Member, "ou_brand")).active = False
        await s.commit()
    monkeypatch.setenv("DATABASE_URL", harness.bot.settings.database_url)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)

    async def run(*args: str) -> int:
        argv = ["ledger", "export", *args, "--as-of", "2026-12-04T17:00:00+08:00"]
        return await asyncio.to_thread(dutybot_main, argv)

    return tasks, run, out


async def test_csv_has_one_row_per_task_and_opens_in_excel(ledger, capsys):
    tasks, run, out = ledger
    assert await run("ledger.csv", "--from", "2026-11-30", "--to", "2026-12-06") == 0
    raw = (out / "ledger.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert "wrote 6 task(s)" in capsys.readouterr().out
    by_id = {int(r["task_id"]): r for r in rows}
    late = by_id[tasks["late"].id]
    assert late["assignee"] == "王策划" and late["role"] == "Marketing Planning Specialist"
    assert late["due"] == "2026-12-02T18:00:00+08:00" and late["on_time"] == "no"
    assert late["submitted_at"] == "2026-12-03T11:00:00+08:00"
    assert late["clause"].startswith("一(")
    report = by_id[tasks["report"].id]
    assert report["on_time"] == "yes" and report["report_status"] == "approved"
    assert report["approver"] == "李经理" and report["decided_at"] == "2026-12-02T09:00:00+08:00"
    assert "60%" in report["kpi_misses"] and "80%" in report["kpi_misses"]
    assert by_id[tasks["missing"].id]["on_time"] == "missing"
    assert by_id[tasks["excused"].id]["on_time"] == "excused (leave)"
    assert tasks["old"].id not in by_id  # due the week before


async def test_xlsx_filtered_by_role_and_person_in_chinese(ledger):
    tasks, run, out = ledger
    assert await run("台账.xlsx", "--role", "市场策划专员", "--lang", "zh") == 0
    ws = load_workbook(out / "台账.xlsx").active
    header = [c.value for c in ws[1]]
    assert header[:4] == ["任务编号", "职责", "职责代号", "岗位"]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in ws.iter_rows(min_row=2)]
    assert {r["任务编号"] for r in rows} == {tasks[k].id for k in ("on_time", "late", "report")}
    assert {r["岗位"] for r in rows} == {"市场策划专员"}
    due = rows[0]["截止时间"]
    assert due.year == 2026 and due.hour == 18  # a real date cell, local wall time
    assert {r["是否按时"] for r in rows} == {"按时", "逾期"}
    assert await run("brand.xlsx", "--assignee", "ou_brand", "--lang", "zh") == 0
    ws = load_workbook(out / "brand.xlsx").active
    (row,) = list(ws.iter_rows(min_row=2, values_only=True))
    assert row[4] == "陈品牌（已离开）" and row[10] == "未完成"


@pytest.mark.parametrize(
    "args, message",
    [
        (("ledger.pdf",), "must end in .csv or .xlsx"),
        (("ledger.csv", "--from", "2026-12-09", "--to", "2026-12-01"), "is after --to"),
        (("ledger.csv", "--role", "janitor"), "unknown role 'janitor'"),
        (("nowhere/ledger.csv",), "does not exist"),
        (("ledger.csv", "--from", "2026-13-01"), "is not a date"),
    ],
)
async def test_bad_input_is_one_line_and_exit_2(ledger, capsys, args, message):
    _, run, out = ledger
    try:
        code = await run(*args)
    except SystemExit as exc:  # argparse rejects malformed values itself
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert list(out.iterdir()) == []  # nothing written, not even a temporary file
