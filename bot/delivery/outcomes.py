"""What a failed send means for its outbox row: retry (until the row expires), or stop now
because retrying cannot help. Codes from Feishu's send/patch docs (docs/feishu-platform.md
§4.3); anything else that is not a success is retried, since an unknown code may be passing
and giving up early would lose the message."""

from __future__ import annotations

# The message itself is bad: it fails the same way every time.
PAYLOAD = frozenset(
    {
        230001,  # invalid parameter / content
        230022,  # sensitive content
        230025,  # too long
        230028,  # DLP audit failed
        230099,  # card could not be created
        11310,  # a card element exceeds a limit
        230031,  # a card can be updated only within 14 days
        230011,  # the message replied to / updated was recalled
        230110,  # ... or deleted
        99992402,  # field validation failed
        1470400,  # Feishu Tasks: invalid parameter
    }
)
# The receiver is gone or out of reach until an admin changes something.
PERMANENT = frozenset(
    {
        230002,  # bot not in the chat
        230006,  # bot capability not enabled
        230013,  # user outside the bot's availability
        230017,  # bot cannot message this user
        230027,  # lacking permission
        230029,  # user resigned
        232009,  # chat dissolved
        99991672,  # the app lacks a scope
        99991679,  # the user lacks permission
        1470403,  # Feishu Tasks: no permission on the task
        1470404,  # Feishu Tasks: the task is gone (deleted in Feishu)
    }
)


def classify(code: int, retryable: bool) -> str | None:
    """ "payload" or "permanent" when retrying cannot help, else None (retry later)."""
    if code in PAYLOAD:
        return "payload"
    if code in PERMANENT:
        return "permanent"
    return None
