"""Pure Card JSON 2.0 builders: no I/O, no storage, no Feishu client."""

from cards.due import build_due_card
from cards.elements import escape_md, fit_card, truncate
from cards.help import build_help_card
from cards.notice import build_not_on_team_card, build_notice_card
from cards.schema import validate_card
from cards.views import DueView, MemberView, TaskView
from cards.whoami import build_whoami_card

__all__ = [
    "DueView",
    "MemberView",
    "TaskView",
    "build_due_card",
    "build_help_card",
    "build_not_on_team_card",
    "build_notice_card",
    "build_whoami_card",
    "escape_md",
    "fit_card",
    "truncate",
    "validate_card",
]
