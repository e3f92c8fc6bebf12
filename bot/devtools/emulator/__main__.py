"""Run the Feishu emulator in the foreground: `python -m bot.devtools.emulator --port 9999`."""

from __future__ import annotations

import argparse
import threading

from bot.devtools.emulator.server import FeishuEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Feishu Open API emulator (127.0.0.1)")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--app-id", default="cli_test")
    parser.add_argument("--app-secret", default="secret_test")
    parser.add_argument("--bot-open-id", default="ou_bot")
    parser.add_argument("--no-limits", action="store_true", help="disable rate limits")
    args = parser.parse_args(argv)
    emu = FeishuEmulator(
        app_id=args.app_id,
        app_secret=args.app_secret,
        bot_open_id=args.bot_open_id,
        port=args.port,
        limits_enabled=not args.no_limits,
    )
    url = emu.start()
    print(f"Feishu emulator on {url} (messages: {url}/_emulator/messages); Ctrl-C to stop")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
