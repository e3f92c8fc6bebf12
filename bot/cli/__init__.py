"""The `dutybot` command line: one module per command group."""

from bot.cli.main import main

__all__ = ["main"]
