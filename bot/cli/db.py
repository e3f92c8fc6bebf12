"""`dutybot db upgrade`: run the database migrations."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli import common
from bot.config import redact_url


def register(sub: common.SubParsers) -> None:
    dbp = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    dbp.add_parser("upgrade", help="run migrations").set_defaults(fn=cmd_db_upgrade)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage import db

    settings = common.settings()

    async def run() -> str:
        engine = db.make_engine(settings.database_url)
        try:
            before = await db.current_revision(engine)
            await db.upgrade(engine)
            after = await db.current_revision(engine)
        finally:
            await engine.dispose()
        return f"database {redact_url(settings.database_url)}: {before or 'empty'} → {after}"

    print(asyncio.run(run()))
    return 0
