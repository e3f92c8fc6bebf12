"""CLI commands for scheduling: tick, activities, tasks. (Issue #4.)"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `dutybot` parser."""
