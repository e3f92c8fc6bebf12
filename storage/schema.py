"""The schema version this code ships, read from the migration files as text: no Alembic,
no SQLAlchemy (storage.db and storage.plain compare it with the database's)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _assigned(tree: ast.Module, name: str) -> tuple[bool, object]:
    """The literal a module assigns to `name` at top level (plain or annotated)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            try:
                return True, ast.literal_eval(value)
            except ValueError:
                return False, None
    return False, None


@functools.cache
def shipped_head() -> str | None:
    """The single head of the migration files, read as text (no Alembic, no imports of the
    migrations); None when that is not plain (several heads, a computed revision, a file
    we cannot read): then Alembic decides, as before."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            return None
        found, revision = _assigned(tree, "revision")
        has_down, down = _assigned(tree, "down_revision")
        if not found or not has_down or not isinstance(revision, str):
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):
            parents.update(down)
        elif down is not None:
            return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
