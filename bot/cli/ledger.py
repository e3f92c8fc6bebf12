"""`dutybot ledger export FILE`: the duty ledger as CSV (UTF-8 with a BOM, so Excel opens
it) or .xlsx (openpyxl), chosen by the file's extension. Filters: --from / --to on the due
date (inclusive, the team's time zone), --role (key or name, in the policy of the
department it belongs to), --department (key), --assignee (open_id).

The file is written to a temporary name and renamed into place, so a failure never
leaves half a ledger behind. Bad input is one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from bot.cli import common

FORMATS = (".csv", ".xlsx")


class LedgerInputError(ValueError):
    """Bad input: shown as one line, exit code 2."""


def register(sub: common.SubParsers) -> None:
    ledger = sub.add_parser("ledger", help="the duty ledger (who owed what, when, how it went)")
    lsub = ledger.add_subparsers(dest="ledger_command", required=True)
    export = lsub.add_parser(
        "export", help="write one row per task to FILE (.csv or .xlsx, by extension)"
    )
    export.add_argument("file", help="where to write: ledger.csv or ledger.xlsx")
    export.add_argument(
        "--from", dest="date_from", type=common.parse_date, help="first due date (YYYY-MM-DD)"
    )
    export.add_argument(
        "--to", dest="date_to", type=common.parse_date, help="last due date (YYYY-MM-DD)"
    )
    export.add_argument(
        "--role",
        help="only this role's duties (key, Chinese or English name; looked up in every "
        "department's policy, or in --department's)",
    )
    export.add_argument(
        "--department", metavar="KEY", help="only this department's tasks (see `org sync`)"
    )
    export.add_argument("--assignee", help="only this person's tasks (open_id)")
    export.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="headers and names (default en)"
    )
    export.add_argument(
        "--as-of",
        type=common.parse_instant,
        help="judge undelivered tasks (missing / not yet due) at this ISO 8601 instant "
        "(default: now; without an offset it is the team's local time)",
    )
    export.set_defaults(fn=cmd_ledger_export)


def _role_key(policy, text: str) -> str | None:
    wanted = text.strip().lower()
    for role in policy.roles.values():
        if wanted in (role.key.lower(), role.name_zh.lower(), role.name_en.lower()):
            return role.key
    return None


def ledger_scope(
    policies, department: str | None, role_text: str | None
) -> tuple[str | None, set[str] | None]:
    """The department filter and the duty keys of `--department` / `--role`. A role is
    looked up in the policy of `department`, else of every declared department (the
    default one without departments): unknown, or found in several, is LedgerInputError."""
    from bot.domain.departments import DEFAULT_DEPARTMENT

    declared = policies.declared
    if department is not None and department not in policies:
        known = ", ".join(declared) or DEFAULT_DEPARTMENT
        raise LedgerInputError(f"unknown department {department!r} (departments: {known})")
    if role_text is None:
        return department, None
    candidates = [department] if department else list(declared) or [DEFAULT_DEPARTMENT]
    found = [(d, k) for d in candidates if (k := _role_key(policies.get(d), role_text))]
    if not found:
        known = "; ".join(
            f"{d}: {', '.join(policies.get(d).roles)}"
            if declared
            else ", ".join(policies.get(d).roles)
            for d in candidates
        )
        raise LedgerInputError(f"unknown role {role_text!r} (roles: {known})")
    if len(found) > 1:
        where = ", ".join(f"{d} ({policies.get(d).roles[k].name_zh})" for d, k in found)
        raise LedgerInputError(
            f"role {role_text!r} is in several departments: {where}; add --department KEY"
        )
    ((dept, role),) = found
    policy = policies.get(dept)
    duty_keys = {d.key for d in policy.duties.values() if d.role == role}
    return (None if policies.is_single else dept), duty_keys


def _check(args: argparse.Namespace) -> str:
    suffix = Path(args.file).suffix.lower()
    if suffix not in FORMATS:
        raise LedgerInputError(
            f"{args.file}: the file name must end in .csv or .xlsx (got {suffix or 'no extension'!r})"
        )
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise LedgerInputError(f"--from {args.date_from} is after --to {args.date_to}")
    parent = Path(args.file).resolve().parent
    if not parent.is_dir():
        raise LedgerInputError(f"{args.file}: the folder {parent} does not exist")
    return suffix


def _cell(value):
    return value.isoformat() if isinstance(value, datetime) else ("" if value is None else value)


def csv_bytes(rows: list[dict], headers: dict[str, str]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers.values())
    for row in rows:
        writer.writerow(_cell(row[k]) for k in headers)
    return buf.getvalue().encode("utf-8-sig")  # the BOM tells Excel it is UTF-8


def xlsx_bytes(rows: list[dict], headers: dict[str, str], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(list(headers.values()))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    dt_columns = set()
    for row in rows:
        values = []
        for i, key in enumerate(headers, start=1):
            value = row[key]
            if isinstance(value, datetime):  # Excel has no time zones: local wall time
                value = value.replace(tzinfo=None)
                dt_columns.add(i)
            values.append(value)
        ws.append(values)
    for i, key in enumerate(headers, start=1):
        letter = get_column_letter(i)
        if i in dt_columns:
            for cell in ws[letter][1:]:
                cell.number_format = "yyyy-mm-dd hh:mm"
        width = 60 if key == "clause" else 18 if i in dt_columns else 14
        ws.column_dimensions[letter].width = width
    ws.auto_filter.ref = ws.dimensions
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_ledger_export(args: argparse.Namespace) -> int:
    from bot.domain.ledger import HEADERS, Person, build_rows
    from storage import plain

    try:
        suffix = _check(args)
        settings = common.settings()
        policy = common.load_policy(settings)
    except LedgerInputError as exc:
        print(f"dutybot ledger export: {exc}", file=sys.stderr)
        return 2
    tz = settings.tz
    lo = (
        datetime.combine(args.date_from, time(0), tzinfo=tz).astimezone(UTC)
        if args.date_from
        else None
    )
    hi = (
        datetime.combine(args.date_to + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        if args.date_to
        else None
    )

    async def run(reader):
        policies = await plain.load_policies(reader, policy)
        department, duty_keys = ledger_scope(policies, args.department, args.role)
        tasks = await plain.ledger_tasks(
            reader, lo, hi, duty_keys=duty_keys, assignee=args.assignee, department=department
        )
        reports = await plain.reports_for_tasks(reader, [t.id for t in tasks if t.id is not None])
        members = await plain.all_members(reader)
        leave = await plain.all_leave(reader)
        return tasks, reports, members, leave, policies

    try:
        tasks, reports, members, leave, policies = common.run_reads(
            settings, run, what="export the ledger"
        )
    except LedgerInputError as exc:
        print(f"dutybot ledger export: {exc}", file=sys.stderr)
        return 2
    people = {m.open_id: Person(m.name, m.active, m.role_key) for m in members}

    def on_leave(open_id: str, due: datetime) -> bool:
        day = due.astimezone(tz).date()
        return any(o == open_id and s <= day <= e for o, s, e in leave)

    now = args.as_of or common.now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=tz)
    rows = build_rows(tasks, reports, people, policies, tz, now, on_leave, args.lang)
    headers = HEADERS[args.lang]
    data = (
        csv_bytes(rows, headers)
        if suffix == ".csv"
        else xlsx_bytes(rows, headers, "职责台账" if args.lang == "zh" else "Duty ledger")
    )
    path = Path(args.file)
    try:
        _write_atomically(path, data)
    except OSError as exc:
        print(f"dutybot ledger export: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"wrote {len(rows)} task(s) to {path}")
    return 0
