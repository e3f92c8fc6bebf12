"""A local Feishu Open API emulator (tests, benchmark, sandbox). See bot/emulator/server.py."""

from bot.emulator.server import API_NAMES, FeishuEmulator, MessageUpdate, StoredMessage

__all__ = ["API_NAMES", "FeishuEmulator", "MessageUpdate", "StoredMessage"]
