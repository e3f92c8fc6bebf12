"""Reports: submitting (form card or text), reviewing (approve / reject / read) and lists.

- `submit`: the submit service and the chat and card paths into it;
- `review`: decisions and reading, with authority checked at click time;
- `lists`: 我的报告 / my reports, 待审批 / pending approvals;
- `views`: rows -> card views (and `PREFILL`, other modules' drafts of a new report);
- `common`, `texts`: shared lookups and the zh/en wording.
"""

from __future__ import annotations

from bot.dispatch.router import Router
from handlers.reports import lists, review, submit
from handlers.reports.views import PREFILL

# Lists before submit: "我的报告" must win over the broad submit words in "提交我的报告"'s
# neighbours; `lists.on_my_reports` hands real submissions on to `submit`.
router = Router(name="reports").include(lists.router, submit.router, review.router)

__all__ = ["PREFILL", "router"]
