"""`dutybot policy diff OLD NEW`: what applying a changed policy would do to live tasks.

Read-only: it loads both files, compares them duty by duty, and counts the open tasks and
active members each change touches in the configured database (none is created)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.cli import common

_LABEL = {
    "added": "+",
    "removed": "-",
    "retimed": "~",
    "changed": "~",
    "role-added": "+",
    "role-removed": "-",
    "role-changed": "~",
}


def register(policy_sub: common.SubParsers) -> None:
    diff = policy_sub.add_parser(
        "diff",
        help="what a changed policy file would do to live tasks, before it is applied",
    )
    diff.add_argument("old", help="the policy in use (e.g. the current DUTYBOT_POLICY file)")
    diff.add_argument("new", help="the changed policy")
    diff.add_argument("--lang", choices=("zh", "en"), default="en")
    diff.add_argument("--json", action="store_true", help="one JSON object per change")
    diff.add_argument(
        "--department",
        metavar="KEY",
        help="count the live tasks and members of this department only (several departments)",
    )
    diff.set_defaults(fn=cmd_policy_diff)


def _load(path: str):
    from bot.domain.policy import PolicyError, load_policy

    try:
        return load_policy(path)
    except PolicyError as exc:
        raise common.fail(f"{path}: {len(exc.errors)} error(s)", exc.errors) from None


def _live_counts(
    settings, department: str | None = None
) -> tuple[dict[str, int], dict[str, int], str]:
    """(open tasks per duty, active members per role, where they came from), of one
    department when given."""
    from bot.config import redact_url
    from storage import plain

    where = redact_url(settings.database_url)
    if department:
        where += f", department {department}"
    path = plain.sqlite_file(settings.database_url)
    if path is None and settings.is_sqlite:  # an unusual SQLite URL: as SQLAlchemy reads it
        from sqlalchemy.engine import make_url

        path = make_url(settings.database_url).database
        path = None if path == ":memory:" else path
    if path and not Path(path).exists():
        return {}, {}, f"no database at {path}: no live tasks to count"

    async def run(reader):
        return (
            await plain.open_tasks_by_duty(reader, department),
            await plain.active_members_by_role(reader, department),
        )

    tasks, members = common.run_reads(settings, run, what="count live tasks")
    return tasks, members, where


def cmd_policy_diff(args: argparse.Namespace) -> int:
    from bot.domain.policy_diff import diff_policies

    old, new = _load(args.old), _load(args.new)
    changes = diff_policies(old, new, args.lang)
    tasks, members, where = _live_counts(common.settings(), args.department)
    rows = []
    for c in changes:
        row = {"kind": c.kind, "key": c.key, "role": c.role, "what": list(c.what)}
        if c.is_role:
            row["members"] = members.get(c.key, 0)
        else:
            row["open_tasks"] = tasks.get(c.key, 0)
            row["members"] = members.get(c.role, 0)
        rows.append(row)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print(f"policy diff {args.old} -> {args.new}")
    print(f"live data: {where}")
    if not rows:
        print("no changes")
        return 0
    role_rows = [r for r in rows if r["kind"].startswith("role-")]
    duty_rows = [r for r in rows if not r["kind"].startswith("role-")]
    if role_rows:
        print("\nRoles")
        for r in role_rows:
            print(f"  {_LABEL[r['kind']]} {r['key']}: {'; '.join(r['what'])}{_role_effect(r)}")
    if duty_rows:
        print("\nDuties")
        for r in duty_rows:
            print(f"  {_LABEL[r['kind']]} {r['key']} ({r['role']}): {'; '.join(r['what'])}")
            print(f"      {_duty_effect(r, new)}")
    print("\n" + _totals(rows))
    return 0


def _role_effect(r: dict) -> str:
    n = r["members"]
    if r["kind"] == "role-removed" and n:
        return f" — {n} active member(s) have this role: give them another before applying"
    if r["kind"] == "role-added":
        return " — no members yet (add them to the team file)"
    return f" — {n} active member(s)" if n else ""


def _duty_effect(r: dict, new) -> str:
    n, m = r["open_tasks"], r["members"]
    kind = r["kind"]
    if kind == "added":
        duty = new.duties[r["key"]]
        if duty.due.kind in ("activity", "sla"):
            return f"new tasks come from activities / events; {m} member(s) have role {r['role']}"
        return f"tasks start for {m} active member(s) of role {r['role']} when applied"
    if kind == "removed":
        return f"{n} open task(s) stay as they are; no new ones"
    if kind == "retimed":
        return f"{n} open task(s) keep their current due dates; later periods follow the new rule"
    return f"{n} open task(s) of this duty"


def _totals(rows: list[dict]) -> str:
    count = {k: sum(1 for r in rows if r["kind"] == k) for k in _LABEL}
    touched = sum(r.get("open_tasks", 0) for r in rows if not r["kind"].startswith("role-"))
    return (
        f"roles: {count['role-added']} added, {count['role-removed']} removed, "
        f"{count['role-changed']} changed; duties: {count['added']} added, "
        f"{count['removed']} removed, {count['retimed']} re-timed, {count['changed']} changed; "
        f"{touched} open task(s) touched"
    )
