"""Settings from the environment (and `.env`, loaded by the CLI), validated in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.digests import MONTHLY_DIGEST_RE, WEEKLY_DIGEST_RE  # "fri 17:00" / "10:00"

DEFAULT_DOMAIN = "https://open.feishu.cn"
DEFAULT_DB_FILE = "dutybot.db"
TRANSPORTS = ("webhook", "longconn")
ON_OFF = {
    "on": True,
    "true": True,
    "1": True,
    "yes": True,
    "off": False,
    "false": False,
    "0": False,
    "no": False,
}


class ConfigError(Exception):
    """One or more settings are missing or inconsistent; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def render(self) -> str:
        """A single message for people: every problem on its own line, and where to fix it."""
        lines = ["DutyBot cannot start: the settings need fixing."]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Settings come from the environment or a .env file; see .env.example.")
        return "\n".join(lines)


def _secret_repr(value: str) -> str:
    return "'***'" if value else "''"


@dataclass(frozen=True)
class Settings:
    app_id: str = ""
    app_secret: str = field(default="", repr=False)
    verification_token: str = field(default="", repr=False)
    encrypt_key: str = field(default="", repr=False)
    domain: str = DEFAULT_DOMAIN
    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_DB_FILE}"
    transport: str = "webhook"
    host: str = "127.0.0.1"
    port: int = 8080
    timezone: str = "Asia/Shanghai"
    policy_path: str | None = None
    calendar_path: str | None = None
    event_max_age_hours: float = 12.0
    dedupe_keep_hours: float = 24.0
    signature_tolerance_hours: float = 8.0  # how old a signed request's timestamp may be
    body_timeout_seconds: float = 10.0  # a request body slower than this gets 408
    log_level: str = "INFO"
    weekly_digest: str = "fri 17:00"  # "<weekday> HH:MM" local, or "off"
    monthly_digest: str = "10:00"  # HH:MM on the first working day of a month, or "off"
    feishu_tasks: bool = False  # mirror assigned tasks into Feishu Tasks v2 (opt-in)

    @property
    def has_credentials(self) -> bool:
        """True when a Feishu app is configured (the bot can send messages)."""
        return bool(self.app_id and self.app_secret)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def __repr__(self) -> str:  # never print secrets, even in a debugger or a log line
        return (
            f"Settings(app_id={self.app_id!r}, app_secret={_secret_repr(self.app_secret)}, "
            f"verification_token={_secret_repr(self.verification_token)}, "
            f"encrypt_key={_secret_repr(self.encrypt_key)}, domain={self.domain!r}, "
            f"database_url={redact_url(self.database_url)!r}, transport={self.transport!r}, "
            f"host={self.host!r}, port={self.port}, timezone={self.timezone!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings; raise ConfigError listing every problem at once."""
        env = os.environ if env is None else env
        problems: list[str] = []

        def get(name: str, default: str = "") -> str:
            return env.get(name, default).strip()

        def number(name: str, default: float, cast: type = float) -> float:
            raw = get(name)
            if not raw:
                return default
            try:
                value = cast(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not a number")
                return default
            if value <= 0:
                problems.append(f"{name} must be positive, got {raw}")
                return default
            return value

        app_id, app_secret = get("FEISHU_APP_ID"), get("FEISHU_APP_SECRET")
        token, encrypt_key = get("FEISHU_VERIFICATION_TOKEN"), get("FEISHU_ENCRYPT_KEY")
        if bool(app_id) != bool(app_secret):
            missing = "FEISHU_APP_SECRET" if app_id else "FEISHU_APP_ID"
            problems.append(
                f"{missing} is missing: set both FEISHU_APP_ID and FEISHU_APP_SECRET, or neither"
            )
        transport = get("DUTYBOT_TRANSPORT", "webhook").lower()
        if transport not in TRANSPORTS:
            problems.append(
                f"DUTYBOT_TRANSPORT={transport!r} is not one of {', '.join(TRANSPORTS)}"
            )
        if transport == "longconn" and not app_id:
            problems.append("DUTYBOT_TRANSPORT=longconn needs FEISHU_APP_ID and FEISHU_APP_SECRET")
        if app_id and transport == "webhook" and not token:
            problems.append(
                "FEISHU_VERIFICATION_TOKEN is missing: copy it from the app's "
                "Events & Callbacks > Encryption Strategy page"
            )

        domain = get("FEISHU_DOMAIN", DEFAULT_DOMAIN).rstrip("/")
        parts = urlsplit(domain)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path:
            problems.append(
                f"FEISHU_DOMAIN={domain!r} must look like https://open.feishu.cn (no path)"
            )
        elif parts.scheme == "http" and not local:
            problems.append(f"FEISHU_DOMAIN={domain!r} must use https (http only for 127.0.0.1)")

        database_url = get("DATABASE_URL") or f"sqlite+aiosqlite:///{DEFAULT_DB_FILE}"
        if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            problems.append(
                "DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                f"(got {redact_url(database_url)!r})"
            )

        timezone = get("DUTYBOT_TIMEZONE", "Asia/Shanghai")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                f"DUTYBOT_TIMEZONE={timezone!r} is not a known time zone (e.g. Asia/Shanghai)"
            )

        port = int(number("DUTYBOT_PORT", 8080, int))
        if port > 65535:
            problems.append(f"DUTYBOT_PORT={port} is out of range")

        policy_path = get("DUTYBOT_POLICY") or None
        if policy_path and not Path(policy_path).is_file():
            problems.append(f"DUTYBOT_POLICY={policy_path!r}: no such file")
        calendar_path = get("DUTYBOT_CALENDAR") or None
        if calendar_path and not Path(calendar_path).is_file():
            problems.append(f"DUTYBOT_CALENDAR={calendar_path!r}: no such file")

        weekly_digest = get("DUTYBOT_WEEKLY_DIGEST", "fri 17:00").lower()
        if weekly_digest != "off" and not WEEKLY_DIGEST_RE.match(weekly_digest):
            problems.append(
                f"DUTYBOT_WEEKLY_DIGEST={weekly_digest!r} must look like 'fri 17:00' (or 'off')"
            )
        monthly_digest = get("DUTYBOT_MONTHLY_DIGEST", "10:00").lower()
        if monthly_digest != "off" and not MONTHLY_DIGEST_RE.match(monthly_digest):
            problems.append(
                f"DUTYBOT_MONTHLY_DIGEST={monthly_digest!r} must look like '10:00' (or 'off')"
            )

        feishu_tasks_raw = get("DUTYBOT_FEISHU_TASKS", "off").lower()
        if feishu_tasks_raw not in ON_OFF:
            problems.append(f"DUTYBOT_FEISHU_TASKS={feishu_tasks_raw!r} must be 'on' or 'off'")
        feishu_tasks = ON_OFF.get(feishu_tasks_raw, False)
        if feishu_tasks and not app_id:
            problems.append(
                "DUTYBOT_FEISHU_TASKS=on needs FEISHU_APP_ID and FEISHU_APP_SECRET "
                "(the tasks are created by the app)"
            )

        log_level = get("DUTYBOT_LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append(f"DUTYBOT_LOG_LEVEL={log_level!r} is not DEBUG, INFO, WARNING or ERROR")

        settings = cls(
            app_id=app_id,
            app_secret=app_secret,
            verification_token=token,
            encrypt_key=encrypt_key,
            domain=domain,
            database_url=database_url,
            transport=transport,
            host=get("DUTYBOT_HOST", "127.0.0.1"),
            port=port,
            timezone=timezone,
            policy_path=policy_path,
            calendar_path=calendar_path,
            event_max_age_hours=number("DUTYBOT_EVENT_MAX_AGE_HOURS", 12.0),
            dedupe_keep_hours=number("DUTYBOT_DEDUPE_KEEP_HOURS", 24.0),
            signature_tolerance_hours=number("DUTYBOT_SIGNATURE_TOLERANCE_HOURS", 8.0),
            body_timeout_seconds=number("DUTYBOT_BODY_TIMEOUT_SECONDS", 10.0),
            log_level=log_level,
            weekly_digest=weekly_digest,
            monthly_digest=monthly_digest,
            feishu_tasks=feishu_tasks,
        )
        if settings.dedupe_keep_hours < 8:
            problems.append(
                "DUTYBOT_DEDUPE_KEEP_HOURS must be at least 8: Feishu retries for about 7.1 hours"
            )
        if settings.signature_tolerance_hours < 7.5:
            problems.append(
                "DUTYBOT_SIGNATURE_TOLERANCE_HOURS must be at least 7.5: Feishu re-sends an "
                "unanswered event for about 7.1 hours"
            )
        if problems:
            raise ConfigError(problems)
        return settings


def redact_url(url: str) -> str:
    """Hide the password in a database URL."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url
