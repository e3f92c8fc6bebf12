"""`dutybot tasks list`: open tasks, soonest first (text or JSON)."""

from __future__ import annotations

import argparse
import json

from bot.cli import common


def register(sub: common.SubParsers) -> None:
    tasks = sub.add_parser("tasks", help="tasks").add_subparsers(
        dest="tasks_command", required=True
    )
    tl = tasks.add_parser("list", help="open tasks (open, submitted, rejected), soonest first")
    tl.add_argument("--assignee", help="only this member's (open_id)")
    tl.add_argument("--department", metavar="KEY", help="only this department's")
    tl.add_argument("--json", action="store_true", help="one JSON array")
    tl.set_defaults(fn=cmd_tasks_list)


def task_row(task, policies, tz, names: dict[str, str], titles: dict[int, str]) -> dict:
    """One task as the CLI shows it (also the --json shape); its duty from its department's
    policy (of `policies`), its due time in `tz`."""
    duty = policies.get(task.department).duties.get(task.duty_key)
    return {
        "id": task.id,
        "duty_key": task.duty_key,
        "duty_name": duty.name_zh if duty else task.duty_key,
        "duty_name_en": duty.name_en if duty else task.duty_key,
        "assignee": task.assignee_open_id,
        "assignee_name": names.get(task.assignee_open_id, task.assignee_open_id),
        "activity_id": task.activity_id,
        "activity": titles.get(task.activity_id) if task.activity_id else None,
        "period": task.period_key,
        "due": task.due_at.astimezone(tz).isoformat(),
        "status": task.status,
        "department": task.department,
    }


def print_tasks(rows: list[dict]) -> None:
    for r in rows:
        activity = f"  [{r['activity']}]" if r["activity"] else ""
        print(
            f"  #{r['id']:<6} {r['due']}  {r['status']:<9} {r['duty_key']:<28} "
            f"{r['assignee_name']} ({r['assignee']}){activity}"
        )


def cmd_tasks_list(args: argparse.Namespace) -> int:
    from storage import plain

    settings, policy, _ = common.checked()

    async def run(reader):
        policies = await plain.load_policies(reader, policy)
        tasks = await plain.list_open(reader, args.assignee, department=args.department)
        names = await common.reader_names(reader)
        ids = {t.activity_id for t in tasks if t.activity_id}
        titles = await plain.activity_titles(reader, ids)
        return [task_row(t, policies, settings.tz, names, titles) for t in tasks]

    rows = common.run_reads(settings, run)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    print(f"{len(rows)} open task(s)")
    print_tasks(rows)
    return 0
