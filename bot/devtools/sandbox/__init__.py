"""The no-account sandbox: the bot, a local Feishu emulator and a web chat page."""
