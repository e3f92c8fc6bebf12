"""A local Feishu Open API emulator (tests, benchmark, sandbox). See bot/devtools/emulator/server.py."""

from bot.devtools.emulator.server import API_NAMES, FeishuEmulator, MessageUpdate, StoredMessage

__all__ = ["API_NAMES", "FeishuEmulator", "MessageUpdate", "StoredMessage"]
