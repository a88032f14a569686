"""The fixed vocabularies of the API (docs/api.md, docs/nlu.md)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    operator = "operator"
    police = "police"
    dolisa = "dolisa"
    supervisor = "supervisor"
    admin = "admin"
    # Service accounts: `service` is the configured bot; `partner` an outside integration that
    # files tickets and follows up on its own (docs/api.md, Roles).
    service = "service"
    partner = "partner"


class Status(StrEnum):
    new = "new"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    referred = "referred"
    resolved = "resolved"
    unfounded = "unfounded"
    duplicate = "duplicate"


CLOSED_STATUSES = frozenset({Status.resolved, Status.unfounded, Status.duplicate})


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"


class Channel(StrEnum):
    telegram = "telegram"
    zalo = "zalo"
    sms = "sms"
    webchat = "webchat"
    voice = "voice"
    terminal = "terminal"


# Channels a staff reply can travel back on; a phone call has no thread to answer into.
REPLYABLE_CHANNELS = frozenset(
    {Channel.telegram, Channel.zalo, Channel.sms, Channel.webchat, Channel.terminal}
)


class Intent(StrEnum):
    request_rescue = "request_rescue"
    report_trafficking = "report_trafficking"
    report_missing = "report_missing"
    request_support = "request_support"
    check_offer = "check_offer"
    ask_info = "ask_info"
    ask_hotline = "ask_hotline"
    follow_up = "follow_up"
    greet = "greet"
    goodbye = "goodbye"
    thank = "thank"
    affirm = "affirm"
    deny = "deny"
    out_of_scope = "out_of_scope"


class ReplyState(StrEnum):
    queued = "queued"
    sending = "sending"
    delivered = "delivered"
    failed = "failed"


class ReferralState(StrEnum):
    pending = "pending"
    accepted = "accepted"
    returned = "returned"
