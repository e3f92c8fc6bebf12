"""Operations: readiness, metrics, and secrets that never reach the logs."""

from __future__ import annotations

import io
import json
import logging

from bot.logs import setup_logging
from tests import feishu_events as fe


async def test_readyz_checks_database_token_and_transport(harness):
    resp = await harness.client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200 and body["ready"] is True
    assert body["database"] is True and body["feishu_token"] is True
    assert body["transport"]["state"] == "listening"


async def test_readyz_fails_when_feishu_refuses_the_token(harness):
    harness.bot.gateway.tokens.invalidate()
    harness.emulator.fail_next(
        "auth.tenant_token", status=400, code=10014, msg="app secret invalid", times=5
    )
    resp = await harness.client.get("/readyz")
    assert resp.status == 503 and (await resp.json())["feishu_token"] is False


async def test_metrics_count_events_duplicates_rejections_and_sends(harness):
    payload = fe.message("待办", "ou_manager", harness.clock.now())
    await harness.post(payload)
    await harness.post(payload)
    await harness.client.post("/feishu/events", data=b"junk")
    await harness.settle()
    text = await (await harness.client.get("/metrics")).text()
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values["dutybot_events_received_total"] == 2
    assert values["dutybot_events_duplicate_total"] == 1
    assert values["dutybot_events_rejected_total"] == 1
    assert values["dutybot_sends_total"] == 1
    assert values["dutybot_outbox_depth"] == 0
    assert "dutybot_callback_seconds_bucket" in text


async def test_secrets_never_appear_in_logs(harness):
    stream = io.StringIO()
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, list(root.handlers)
    handler = setup_logging("DEBUG", json_lines=True, stream=stream)
    from bot.logs import add_secret

    for secret in (fe.APP_SECRET + "_long", fe.ENCRYPT_KEY, fe.VERIFICATION_TOKEN):
        add_secret(secret)
    try:
        logging.getLogger("dutybot.test").info(
            "settings: %s %s", fe.ENCRYPT_KEY, fe.VERIFICATION_TOKEN
        )
        await harness.say("待办", sender="ou_manager")
        harness.emulator.revoke_tokens()
        await harness.say("whoami", sender="ou_manager")
        await harness.post(
            fe.message("待办", "ou_manager", harness.clock.now()), encrypt_key="wrong key"
        )
        token = harness.bot.gateway.tokens._token
        assert token
        logging.getLogger("dutybot.test").warning("token was %s", token)
        await harness.settle()
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)  # other tests must not run with DEBUG logging
        for h in saved_handlers:
            root.addHandler(h)
    output = stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    for secret in (fe.ENCRYPT_KEY, fe.VERIFICATION_TOKEN, token):
        assert secret not in output
    assert "***" in output


def test_sigterm_stops_the_bot_gracefully(tmp_path):
    """`dutybot sandbox` (the whole stack: emulator, bot, workers, scheduler, web) serves,
    then on SIGTERM stops taking requests, finishes its work and exits 0."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FEISHU_", "DUTYBOT_", "DATABASE_URL"))
    }
    env.update(PYTHONPATH=str(ROOT), DUTYBOT_PORT=str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(
                        f"did not start: {proc.stderr.read() if proc.poll() is not None else ''}"
                    ) from None
                time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "open http://127.0.0.1" in out
    assert "stopped" in err and "Traceback" not in err
