"""The states of tasks and reports, as stored (here, not in storage.models, so that readers
without SQLAlchemy can name them: storage.plain)."""

from __future__ import annotations


class TaskStatus:
    OPEN = "open"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    APPROVED = "approved"
    DONE = "done"
    CANCELLED = "cancelled"
    OPEN_STATES = (OPEN, SUBMITTED, REJECTED)


class ReportStatus:
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
