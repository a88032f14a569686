"""Twilio's request signature, checked the same way for every Twilio webhook (SMS, voice):
docs/platforms.md §3.2 and §4.

Twilio signs the URL it called and every form parameter with the account's auth token
(HMAC-SHA1, `X-Twilio-Signature`); `twilio.request_validator.RequestValidator` recomputes it.
Behind a reverse proxy the URL the app sees is not the one Twilio called, so it is rebuilt
from `HOTLINE_PUBLIC_BASE_URL`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from twilio.request_validator import RequestValidator

from bot.config import BotSettings

SIGNATURE_HEADER = "X-Twilio-Signature"


def public_url(request: Request, settings: BotSettings) -> str:
    """The URL Twilio called, which is what it signed.

    Behind a reverse proxy `request.url` has the internal scheme and host, so with
    `public_base_url` set (the public address of this app's root, prefix included) the URL is
    rebuilt from it and the path below the app's root.
    """
    base = (settings.public_base_url or "").rstrip("/")
    if not base:
        return str(request.url)
    path = request.url.path
    root = request.scope.get("app_root_path", request.scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    query = request.url.query
    return f"{base}{path}?{query}" if query else f"{base}{path}"


def signature_problem(
    request: Request, form: Any, validator: RequestValidator | None, settings: BotSettings
) -> str | None:
    """Why the request is not an authentic Twilio request (a sentence), or None."""
    if validator is None:
        return "the webhook is not configured (no Twilio auth token); refusing"
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        return f"Missing {SIGNATURE_HEADER} header."
    # Twilio only sends url-encoded text fields; a file part cannot be part of a signature.
    if any(not isinstance(value, str) for _, value in form.multi_items()):
        return f"Invalid {SIGNATURE_HEADER}."
    # Every parameter is signed, including ones added after this code was written, so the
    # whole form goes to the validator, never a whitelist (docs/platforms.md §3.1).
    if not validator.validate(public_url(request, settings), form, signature):
        return f"Invalid {SIGNATURE_HEADER} for this URL and body."
    return None
