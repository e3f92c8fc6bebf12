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
    show.set_defaults(fn=cmd_policy_show)
    check = pol.add_parser("check", help="validate a policy file")
    check.add_argument("file")
    check.set_defaults(fn=cmd_policy_check)
    from bot.cli import policy_diff, policy_draft

    policy_draft.register(pol)
    policy_diff.register(pol)


def cmd_policy_show(args: argparse.Namespace) -> int:
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
