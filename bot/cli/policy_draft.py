"""`dutybot policy draft DOC [-o OUT.toml]`: a policy file drafted from a written policy.

Offline and deterministic; the TOML goes to stdout (or OUT), the summary to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def register(policy_sub: argparse._SubParsersAction) -> None:
    """Add `draft` to the `dutybot policy` sub-commands."""
    draft = policy_sub.add_parser(
        "draft",
        help="draft a policy file from a written role-duty policy (.txt, .md, .docx)",
        description="Read a department's written role-duty policy and write a policy TOML "
        "draft; every guess is marked inferred = true or with a '# REVIEW:' comment.",
    )
    draft.add_argument("document", help="the policy document (.txt, .md or .docx)")
    draft.add_argument("-o", "--output", help="write the TOML here (default: print it)")
    draft.add_argument("--force", action="store_true", help="overwrite OUTPUT if it already exists")
    draft.set_defaults(fn=cmd_policy_draft)


def cmd_policy_draft(args: argparse.Namespace) -> int:
    from bot.domain.policy_draft import DraftError, draft_policy

    try:
        result = draft_policy(args.document)
    except DraftError as exc:
        print(f"cannot draft a policy: {exc}", file=sys.stderr)
        return 2
    if args.output:
        out = Path(args.output)
        if out.exists() and not args.force:
            print(f"{out} exists; pass --force to overwrite it", file=sys.stderr)
            return 2
        try:
            _write_atomically(out, result.toml)
        except OSError as exc:
            print(f"cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(result.toml)
        sys.stdout.flush()
    where = f" -> {args.output}" if args.output else ""
    print(f"{args.document}{where}: {result.summary()}", file=sys.stderr)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    """No half-written policy file, even if the disk fills up."""
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
