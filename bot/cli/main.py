"""The `dutybot` command: one module per command group, registered here.

Every failure a user can cause is one clear message on stderr and exit code 2 (bad input,
bad settings, a database that is unreachable or behind), never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlsplit

from bot.cli import activity, db, leave, ledger, org, policy, serve, tasks, tick
from bot.config import DEFAULT_DB_FILE, redact_url

COMMAND_GROUPS = (serve, db, org, policy, tick, activity, tasks, leave, ledger)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dutybot", description="A Feishu/Lark duty bot.")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.fn(args) or 0
    except SystemExit as exc:  # argparse and the commands' clear failures
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `dutybot policy show | head`; before the catch-all below
        sys.stderr.close()
        return 0
    except Exception as exc:
        from storage.db import is_unavailable, unavailable_cause

        if not is_unavailable(exc):
            raise
        raw = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{DEFAULT_DB_FILE}"
        cause = unavailable_cause(exc)
        password = urlsplit(raw).password
        if password:
            cause = cause.replace(password, "***")
        print(f"Cannot use the database (DATABASE_URL={redact_url(raw)}): {cause}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
