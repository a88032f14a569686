"""Who wrote a message added to a ticket later (docs/api.md, Roles): the reporter, or another
sender who knows the reference code. The filer gives an opaque identifier of the person with
the ticket (`reporter.sender_ref`, a keyed hash it computes, never a clear channel id) and with
every later message; a message whose identifier differs is from another sender. Such a message
is kept and shown to staff as such, flags the ticket, and changes nothing else on it: someone
holding a victim's code must not be able to call off a rescue or move it."""

from __future__ import annotations

REPORTER = "reporter"
ANOTHER_SENDER = "another_sender"


def sender_of(reporter_ref: str | None, message_ref: str | None) -> str | None:
    """`REPORTER`, `ANOTHER_SENDER`, or None when there is nothing to compare (an older ticket,
    or a filer that sends no identifiers)."""
    if reporter_ref is None or message_ref is None:
        return None
    return REPORTER if reporter_ref == message_ref else ANOTHER_SENDER
