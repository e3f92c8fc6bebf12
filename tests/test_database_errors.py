"""A database that cannot be reached or written is one short line, exit code 2."""

from __future__ import annotations

import pytest

from bot.cli.main import main


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("postgresql+asyncpg://dutybot:s3cret-pw@127.0.0.1:1/dutybot", "127.0.0.1"),
        ("sqlite+aiosqlite:////nonexistent-dir/for/dutybot.db", "unable to open database"),
    ],
)
def test_an_unreachable_database_is_one_line_naming_the_setting(
    url, cause, monkeypatch, tmp_path, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    for name in ("FEISHU_APP_ID", "FEISHU_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["tasks", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("Cannot use the database (DATABASE_URL=")
    assert cause in err
    assert "s3cret-pw" not in err and "Traceback" not in err
