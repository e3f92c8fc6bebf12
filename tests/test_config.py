"""Settings: defaults, and every problem reported at once in one clear message."""

from __future__ import annotations

from bot.config import ConfigError, Settings


def test_defaults_need_no_credentials():
    s = Settings.from_env({})
    assert not s.has_credentials
    assert s.database_url.startswith("sqlite+aiosqlite:///")
    assert (s.host, s.port, s.timezone, s.transport) == (
        "127.0.0.1",
        8080,
        "Asia/Shanghai",
        "webhook",
    )
    assert s.domain == "https://open.feishu.cn"


def test_all_problems_are_reported_together():
    env = {
        "FEISHU_APP_ID": "cli_x",
        "DUTYBOT_TRANSPORT": "carrier-pigeon",
        "DUTYBOT_PORT": "eighty",
        "DUTYBOT_TIMEZONE": "Mars/Olympus",
        "FEISHU_DOMAIN": "http://example.com",
        "DATABASE_URL": "mysql://x",
    }
    try:
        Settings.from_env(env)
    except ConfigError as exc:
        text = exc.render()
        for needle in (
            "FEISHU_APP_SECRET",
            "DUTYBOT_TRANSPORT",
            "DUTYBOT_PORT",
            "DUTYBOT_TIMEZONE",
            "FEISHU_DOMAIN",
            "DATABASE_URL",
            ".env.example",
        ):
            assert needle in text
        assert "Traceback" not in text
    else:
        raise AssertionError("expected ConfigError")


def test_app_without_verification_token_is_refused():
    try:
        Settings.from_env({"FEISHU_APP_ID": "cli_x", "FEISHU_APP_SECRET": "s"})
    except ConfigError as exc:
        assert any("FEISHU_VERIFICATION_TOKEN" in p for p in exc.problems)
    else:
        raise AssertionError("expected ConfigError")


def test_lark_domain_and_local_emulator_are_accepted():
    assert (
        Settings.from_env({"FEISHU_DOMAIN": "https://open.larksuite.com/"}).domain
        == "https://open.larksuite.com"
    )
    assert (
        Settings.from_env({"FEISHU_DOMAIN": "http://127.0.0.1:9999"}).domain
        == "http://127.0.0.1:9999"
    )


def test_repr_hides_secrets():
    s = Settings.from_env(
        {
            "FEISHU_APP_ID": "cli_x",
            "FEISHU_APP_SECRET": "supersecret",
            "FEISHU_VERIFICATION_TOKEN": "tok123",
            "FEISHU_ENCRYPT_KEY": "enc456",
            "DATABASE_URL": "postgresql+asyncpg://u:pw999@h/db",
        }
    )
    text = repr(s)
    for secret in ("supersecret", "tok123", "enc456", "pw999"):
        assert secret not in text
