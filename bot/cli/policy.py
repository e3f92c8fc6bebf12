"""`dutybot policy show | check`: the role-duty policy, read and validated."""

from __future__ import annotations

import argparse
import sys

from bot.cli import common


def register(sub: common.SubParsers) -> None:
    pol = sub.add_parser("policy", help="the role-duty policy").add_subparsers(
        dest="policy_command", required=True
    )
    show = pol.add_parser("show", help="print roles and duties")
    show.add_argument("--lang", choices=("zh", "en"), default="zh")
    _department_arguments(show)
    show.set_defaults(fn=cmd_policy_show)
    check = pol.add_parser("check", help="validate a policy file")
    check.add_argument("file", nargs="?", help="the policy file (or --department KEY)")
    _department_arguments(check)
    check.set_defaults(fn=cmd_policy_check)
    from bot.cli import policy_diff, policy_draft

    policy_draft.register(pol)
    policy_diff.register(pol)


def _department_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--department",
        metavar="KEY",
        help="a department's policy: the file its [[departments]] entry names",
    )
    parser.add_argument(
        "--team",
        metavar="FILE",
        help="the team file declaring it (default: as the last `org sync` recorded it)",
    )


def department_policy_file(args: argparse.Namespace) -> str:
    """The policy file of `--department KEY`: from `--team FILE`'s [[departments]] (the
    path relative to it), else the path the last `org sync` recorded. Exit 2 with the
    departments there are when the key is unknown."""
    key = args.department
    if args.team:
        found = _team_file_departments(args.team)
        source = args.team
    else:
        found = _synced_departments()
        source = "the database (run `dutybot org sync TEAM_FILE` first, or pass --team)"
    if key not in found:
        known = ", ".join(sorted(found)) or "none"
        raise common.fail(f"unknown department '{key}' in {source} (departments: {known})")
    return found[key]


def _team_file_departments(team: str) -> dict[str, str]:
    import tomllib
    from pathlib import Path

    try:
        data = tomllib.loads(Path(team).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise common.fail(f"{team}: cannot read ({exc})") from None
    found = {}
    for entry in data.get("departments") or []:
        if isinstance(entry, dict) and isinstance(entry.get("policy"), str):
            found[str(entry.get("key"))] = str(Path(team).parent / entry["policy"])
    return found


def _synced_departments() -> dict[str, str]:
    from storage.plain import department_files

    return common.run_reads(common.settings(), department_files)


def cmd_policy_show(args: argparse.Namespace) -> int:
    if args.department:
        from bot.domain.policy import PolicyError, load_policy

        path = department_policy_file(args)
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            raise common.fail(f"The policy file {path} has errors:", exc.errors) from None
        print(f"department {args.department}: {path}")
    else:
        policy = common.load_policy(common.settings())
    lang = args.lang
    print(f"{policy.name} / {policy.name_en}")
    for role in policy.roles.values():
        boss = policy.roles.get(role.reports_to) if role.reports_to else None
        reports = boss.name(lang) if boss else (role.reports_to_label or "-")
        print(f"\n{role.name_zh} / {role.name_en} [{role.key}]  reports to: {reports}")
        for duty in policy.duties_for_role(role.key):
            flags = " (inferred default, editable)" if duty.inferred else ""
            report = " [report]" if duty.report else ""
            print(f"  - {duty.name_zh} / {duty.name_en} [{duty.key}]{report}{flags}")
            print(f"      due: {duty.due.describe(lang)}")
            trigger = policy.triggers.get(duty.due.trigger or "")
            if trigger is not None:
                words = " / ".join(f"{w}{': ' if w.isascii() else '：'}…" for w in trigger.words)
                print(f"      starts when logged in chat: {trigger.name(lang)} ({words})")
    return 0


def cmd_policy_check(args: argparse.Namespace) -> int:
    """Exit 1 when the file has errors (it is the answer, not bad input to the command)."""
    from bot.domain.policy import PolicyError, load_policy

    if args.department and args.file:
        raise common.fail("policy check takes a FILE or --department KEY, not both")
    if args.department:
        args.file = department_policy_file(args)
    elif not args.file:
        raise common.fail("policy check needs a FILE (or --department KEY)")
    try:
        policy = load_policy(args.file)
    except PolicyError as exc:
        print(f"{args.file}: {len(exc.errors)} error(s)", file=sys.stderr)
        for line in exc.errors:
            print(f"  - {line}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{args.file}: cannot read ({exc.strerror})", file=sys.stderr)
        return 1
    print(f"{args.file}: OK ({len(policy.roles)} roles, {len(policy.duties)} duties)")
    return 0
