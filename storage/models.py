"""All tables. Timestamps are stored as UTC and always come back timezone-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import DateTime, Index, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import processors
from sqlmodel import Field, SQLModel

from bot.domain.departments import DEFAULT_DEPARTMENT
from storage.status import ReportStatus as ReportStatus  # re-exported: callers import both here
from storage.status import TaskStatus as TaskStatus


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; naive UTC on SQLite, timestamptz on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect, coltype):
        """What TypeDecorator builds (the impl's processor, then process_result_value), in
        one call a value; on SQLite the text is parsed as UTC directly: `replace(tzinfo=)`
        costs ~7x the parse, and the tick converts hundreds of these (bench/due_query.py)."""
        impl = self.impl_instance.result_processor(dialect, coltype)
        finish = self.process_result_value
        if impl is None:  # e.g. asyncpg, whose timestamptz values come back in UTC already

            def process(value):
                if value is None or value.tzinfo is UTC:
                    return value  # what astimezone(UTC) gives: the value itself
                return finish(value, dialect)

            return process
        if impl is not processors.str_to_datetime:
            return lambda value: finish(impl(value), dialect)
        parse = datetime.fromisoformat

        def process(value):
            if value is None:
                return None
            try:
                parsed = parse(value + "+00:00")  # naive UTC text, as we store it
            except (TypeError, ValueError):
                parsed = None
            if parsed is not None and parsed.tzinfo is UTC:
                return parsed
            return finish(impl(value), dialect)  # anything else: the long way, same result

        return process


# A task's `next_action_at` when it must be looked at again: the tick reads it at once and
# stores the exact value. Every write that does not set the column explicitly resets it to
# this (column default and onupdate), so an insert or update that forgets the ladder costs
# one extra look, never a missed reminder.
RECHECK = datetime(1970, 1, 1, tzinfo=UTC)


def _ts(nullable: bool = False, index: bool = False):
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


# The department a member, chat, task, role or duty belongs to (bot.domain.departments):
# DEFAULT_DEPARTMENT unless the team file declares `[[departments]]`.


def _department():
    return Field(
        default=DEFAULT_DEPARTMENT,
        max_length=32,
        sa_column_kwargs={"server_default": DEFAULT_DEPARTMENT},
    )


def stored_key(department: str, key: str) -> str:
    """A role's or duty's primary key in `roles` / `duties`: role and duty keys are unique
    within a department, so another department's are stored as "<department>:<key>" (the
    default department's as they are)."""
    return key if department == DEFAULT_DEPARTMENT else f"{department}:{key}"


class Department(SQLModel, table=True):
    """A department declared in the team file, with its policy file's text as of the last
    `org sync` (the running bot builds the department's policy from it)."""

    __tablename__ = "departments"

    key: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    policy_path: str = Field(default="", sa_type=Text)
    policy_text: str = Field(default="", sa_type=Text)
    active: bool = True
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Role(SQLModel, table=True):
    __tablename__ = "roles"

    key: str = Field(primary_key=True, max_length=64)  # stored_key(department, role key)
    department: str = _department()
    name_zh: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    reports_to: str | None = Field(default=None, max_length=64)
    updated_at: datetime = _ts()


class Duty(SQLModel, table=True):
    """A duty from the policy file; kept (inactive) when the file drops it, so tasks stay valid."""

    __tablename__ = "duties"

    key: str = Field(primary_key=True, max_length=128)  # stored_key(department, duty key)
    department: str = _department()
    role_key: str = Field(max_length=64, index=True)
    name_zh: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    clause: str = Field(default="", sa_type=Text)
    inferred: bool = False
    spec: str = Field(default="{}", sa_type=Text)  # JSON snapshot of the policy entry
    active: bool = True
    updated_at: datetime = _ts()


class Member(SQLModel, table=True):
    __tablename__ = "members"

    open_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    role_key: str = Field(max_length=64, index=True)
    manager_open_id: str | None = Field(default=None, max_length=64)
    is_admin: bool = False
    active: bool = True
    department: str = _department()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    # The language they last wrote to the bot in (zh | en): cards nobody asked for (the
    # hand-off card) speak it; None: the team's language.
    lang: str | None = Field(default=None, max_length=8)


class Chat(SQLModel, table=True):
    __tablename__ = "chats"

    chat_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    is_team: bool = False
    active: bool = True
    department: str = _department()
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Task(SQLModel, table=True):
    """One unit of work: a duty for one assignee in one period (or for one activity)."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("duty_key", "assignee_open_id", "period_key", name="uq_task_period"),
        Index("ix_tasks_assignee_status_due", "assignee_open_id", "status", "due_at"),
        Index("ix_tasks_status_due", "status", "due_at"),
        Index("ix_tasks_status_next_action", "status", "next_action_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    duty_key: str = Field(max_length=128)
    assignee_open_id: str = Field(max_length=64)
    period_key: str = Field(max_length=64)
    activity_id: int | None = Field(default=None)
    department: str = _department()
    due_at: datetime = _ts()
    status: str = Field(default=TaskStatus.OPEN, max_length=16)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    done_at: datetime | None = _ts(nullable=True)
    note: str | None = Field(default=None, sa_type=Text)  # e.g. the approver's rejection comment
    snoozed_until: datetime | None = _ts(nullable=True)  # reminders wait; escalation does not
    # The deadline before a rejection moved it (None: never moved): "was it on time?"
    original_due_at: datetime | None = _ts(nullable=True)
    # What a task started in chat is about: the user question or complaint as logged (user
    # text: always escaped when shown). None for periodic and activity tasks.
    subject: str | None = Field(default=None, sa_type=Text)
    # When the reminder ladder next needs this task (see bot.domain.reminders); NULL: never.
    next_action_at: datetime | None = Field(
        default=RECHECK,
        sa_type=UTCDateTime,
        nullable=True,
        sa_column_kwargs={"onupdate": RECHECK},
    )


class InboundEvent(SQLModel, table=True):
    """The durable inbox: one row per distinct event (messages keyed by message_id)."""

    __tablename__ = "inbound_events"
    __table_args__ = (Index("ix_inbound_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=160, unique=True)
    event_id: str = Field(max_length=128)
    event_type: str = Field(max_length=128)
    payload: str = Field(default="{}", sa_type=Text)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    received_at: datetime = _ts(index=True)
    event_created_at: datetime = _ts()
    next_attempt_at: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    processed_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, sa_type=Text)


class OutboundMessage(SQLModel, table=True):
    """The outbox: a message we decided to send, sent at most once (Feishu `uuid` + this row)."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        Index("ix_outbound_status_next", "status", "next_attempt_at"),
        Index("ix_outbound_lane_claim", "status", "lane", "priority", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    uuid: str = Field(max_length=50, unique=True)
    kind: str = Field(max_length=16)  # send | reply | patch | card_update | task_*
    # Why we send it (answer, reminder, digest, …): sets its priority and how long it is
    # worth retrying (storage.outbox.PURPOSES).
    purpose: str = Field(default="notice", max_length=16)
    priority: int = 2  # lower goes first: an answer to someone who just wrote beats bulk
    lane: str = Field(default="", max_length=80)  # the receiver: claimed fairly per lane
    expires_at: datetime | None = _ts(nullable=True)  # retried until then, then "expired"
    receive_id_type: str | None = Field(default=None, max_length=16)
    receive_id: str | None = Field(default=None, max_length=64)
    target_message_id: str | None = Field(default=None, max_length=64)
    # For a patch of a card we sent ourselves: the uuid of that message's outbox row, resolved
    # to its message_id at send time (the card may not have gone out yet when we decide).
    target_uuid: str | None = Field(default=None, max_length=50)
    msg_type: str = Field(default="interactive", max_length=16)
    content: str = Field(sa_type=Text)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    created_at: datetime = _ts()
    next_attempt_at: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    sent_at: datetime | None = _ts(nullable=True)
    feishu_message_id: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_type=Text)
    # The department the message is about when the sender knows it and the receiver does not
    # say (an answer in a private chat): whose admins hear if it cannot be delivered.
    department: str | None = Field(default=None, max_length=32)


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor_open_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=64)
    subject: str = Field(default="", max_length=200)
    detail: str = Field(default="{}", sa_type=Text)


class Report(SQLModel, table=True):
    """A report for one task; resubmissions add versions, the decision is a single transition."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_approver_status", "approver_open_id", "status", "submitted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(unique=True)
    duty_key: str = Field(max_length=128)
    author_open_id: str = Field(max_length=64, index=True)
    approver_open_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default=ReportStatus.SUBMITTED, max_length=16)
    version: int = 1
    values: str = Field(default="{}", sa_type=Text)  # JSON of the latest version
    kpis: str = Field(default="[]", sa_type=Text)  # JSON of the KPI results of the latest version
    submitted_at: datetime = _ts()
    decided_at: datetime | None = _ts(nullable=True)
    decided_by: str | None = Field(default=None, max_length=64)
    comment: str | None = Field(default=None, sa_type=Text)
    approver_card_uuid: str | None = Field(default=None, max_length=50)
    author_card_uuid: str | None = Field(default=None, max_length=50)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ReportVersion(SQLModel, table=True):
    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("report_id", "version", name="uq_report_version"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(index=True)
    version: int
    values: str = Field(default="{}", sa_type=Text)
    submitted_at: datetime = _ts()
    via: str = Field(default="form", max_length=16)  # form | text


class Activity(SQLModel, table=True):
    """A marketing activity (市场活动 / 项目): its dates drive the activity-relative duties."""

    __tablename__ = "activities"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    mode: str = Field(default="offline", max_length=16)  # online | offline | hybrid
    start_date: date
    end_date: date
    budget: float | None = None
    expected_attendance: int | None = None
    owner_open_id: str = Field(max_length=64)
    status: str = Field(default="active", max_length=16)  # active | cancelled
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Leave(SQLModel, table=True):
    __tablename__ = "leaves"
    __table_args__ = (UniqueConstraint("open_id", "start_date", "end_date", name="uq_leave"),)

    id: int | None = Field(default=None, primary_key=True)
    open_id: str = Field(max_length=64, index=True)
    start_date: date
    end_date: date
    created_at: datetime = _ts()


class Marker(SQLModel, table=True):
    """A side effect that must happen once: a reminder step of a task, a digest for a
    period, a calendar notice for a year. Inserted in the same transaction as the effect."""

    __tablename__ = "markers"

    key: str = Field(primary_key=True, max_length=160)
    created_at: datetime = _ts()
    # The outbox row that carries the effect: a marker whose message expired or failed no
    # longer counts as sent (the reminder is planned again).
    outbox_uuid: str | None = Field(default=None, max_length=50)


class RateLimit(SQLModel, table=True):
    """A shared rate window's place (`key#n`: when it frees, in seconds since the epoch of
    the database clock); see storage.rate_limits. PostgreSQL only. (Rows `key`, heads of
    rings an earlier version took in order, are ignored and pruned.)"""

    __tablename__ = "rate_limits"

    key: str = Field(primary_key=True, max_length=120)
    tat: float = 0.0


class CardSnapshot(SQLModel, table=True):
    """The latest card JSON of each interactive message we sent or replaced, so a click can
    be understood even when Feishu leaves the button's value out (form submit buttons)."""

    __tablename__ = "card_snapshots"

    message_id: str = Field(primary_key=True, max_length=64)
    content: str = Field(sa_type=Text)
    updated_at: datetime = _ts()


class FeishuTaskLink(SQLModel, table=True):
    """A task mirrored in Feishu Tasks v2 (DUTYBOT_FEISHU_TASKS=on): what the mirror last
    queued for it (assignee, due, closed) and the guid Feishu's create answered with."""

    __tablename__ = "feishu_tasks"
    __table_args__ = (
        Index("ix_feishu_tasks_closed", "closed"),
        Index("ix_feishu_tasks_guid", "guid"),  # Feishu's change events name the guid
    )

    task_id: int = Field(primary_key=True)
    guid: str | None = Field(default=None, max_length=64)
    assignee_open_id: str = Field(max_length=64)
    due_at: datetime = _ts()
    closed: bool = False  # completed (or deleted) in Feishu: nothing more to mirror
    # Ticked off in Feishu while the work is still open here (it needs a report): the
    # mirror opens it again there.
    reopen: bool = False
    seq: int = 0  # changes queued after the create: names their outbox rows
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
