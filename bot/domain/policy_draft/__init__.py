"""Draft a policy file from a department's written role-duty policy (issue 13).

Deterministic and offline: the document's outline gives roles and numbered duties
(``structure``), time expressions give due rules (``cadence``), listed contents and stated
thresholds give report fields and KPI checks (``fields``), and ``render`` writes the TOML
with a ``# REVIEW:`` comment on every guess. The result is validated with the same loader
as any policy file before it is returned.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from bot.domain.policy_draft.extract import Draft, build
from bot.domain.policy_draft.reader import DocumentError, parse_text, read_document
from bot.domain.policy_draft.render import render
from bot.domain.policy_draft.structure import outline

__all__ = ["DraftError", "DraftResult", "draft_policy", "draft_from_text"]


class DraftError(Exception):
    """The document cannot be drafted (unreadable, or no role in it)."""


@dataclass(frozen=True)
class DraftResult:
    toml: str
    draft: Draft
    policy: object  # the validated bot.domain.policy Policy

    def summary(self) -> str:
        d = self.draft
        review = d.review_items()
        inferred = sum(1 for x in d.duties if x.inferred)
        head = (
            f"{len(d.roles)} roles, {len(d.duties)} duties ({inferred} inferred), "
            f"{len(review)} items need review"
        )
        lines = [head]
        lines += [f"  - {r}" for r in review]
        return "\n".join(lines)


def draft_policy(path: str | Path) -> DraftResult:
    try:
        blocks = read_document(path)
    except DocumentError as e:
        raise DraftError(str(e)) from None
    except OSError as e:
        raise DraftError(f"{path}: cannot read ({e.strerror or e})") from None
    return _draft(blocks, Path(path).name)


def draft_from_text(text: str, source_name: str = "<text>", markdown: bool = False) -> DraftResult:
    return _draft(parse_text(text, markdown=markdown), source_name)


def _draft(blocks, source_name: str) -> DraftResult:
    from bot.domain.policy import PolicyError, parse_policy

    shape = outline(blocks)
    if not shape.roles:
        raise DraftError(
            f"{source_name}: no role found. A role is a heading or list line naming a job "
            "title (e.g. '（一）销售经理', '## Support Agent', '岗位名称：客服主管')."
        )
    draft = build(shape)
    text = render(draft, source_name)
    try:
        policy = parse_policy(tomllib.loads(text), source_name)
    except (PolicyError, tomllib.TOMLDecodeError) as e:  # a bug here, not in the document
        raise DraftError(f"{source_name}: the draft does not validate: {e}") from None
    return DraftResult(text, draft, policy)
