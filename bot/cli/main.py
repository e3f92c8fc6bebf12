"""The `dutybot` command: one module per command group, registered here.

Every failure a user can cause is one clear message on stderr and exit code 2 (bad input,
bad settings, a database that is unreachable or behind), never a traceback.

Only the module of the command being run is imported (all of them for `dutybot --help` or
a command we do not know, so that argparse lists every choice); each imports its heavy
libraries (SQLAlchemy, pydantic, lark-oapi, …) inside the commands that use them."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from urllib.parse import urlsplit

from bot.config import DEFAULT_DB_FILE, redact_url

# The command groups (modules of bot.cli) in the order `dutybot --help` lists them, and the
# top-level commands each registers.
COMMAND_GROUPS = ("serve", "db", "org", "policy", "tick", "activity", "tasks", "leave", "ledger")
COMMANDS = {"run": "serve", "sandbox": "serve"} | {g: g for g in COMMAND_GROUPS[1:]}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: with only its command's group registered when the first
    argument names one, else with every group."""
    parser = argparse.ArgumentParser(prog="dutybot", description="A Feishu/Lark duty bot.")
    sub = parser.add_subparsers(dest="command", required=True)
    first = argv[0] if argv else None
    groups = (COMMANDS[first],) if first in COMMANDS else COMMAND_GROUPS
    for group in groups:
        importlib.import_module(f"bot.cli.{group}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(argv).parse_args(argv)
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
