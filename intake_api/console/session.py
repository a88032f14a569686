"""The console's sign-in session: an API token kept in an encrypted, HTTP-only cookie.

The cookie holds the bearer token `intake_api.routes.auth.login` issued and a CSRF secret,
sealed with Fernet under a key derived from the deployment's blind-index key. The token keeps
the session revocable on the server (sign-out, an expired token, a disabled account); the
Fernet timestamp is the time of the last activity, so a cookie older than the idle time-out
no longer opens the console, and the token behind it is revoked when it is next presented.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request, Response
from sqlmodel import Session

from intake_api.crypto import PersonalDataCipher
from intake_api.identity import Caller
from intake_api.state import AppState
from intake_api.tokens import revoke_token, user_for_token

COOKIE = "hotline_console"
LOGIN_COOKIE = "hotline_console_login"
COOKIE_PATH = "/console"
# Bearer tokens are "hl_" + 43 characters; anything much longer is not one of ours.
_MAX_COOKIE = 4000


class NeedsSignIn(Exception):
    """No valid session: the page sends the person to the sign-in form."""

    def __init__(self, expired: bool = False, ended: bool = False) -> None:
        super().__init__("sign in")
        # `ended`: the session was valid but its token was revoked or its account disabled
        # (by an admin); `expired`: it ran out of idle time. Either way the cookie is dropped.
        self.expired = expired or ended
        self.ended = ended


class CsrfRefused(Exception):
    """A form without the session's CSRF token (or with another one)."""


@dataclass(frozen=True)
class ConsoleSession:
    caller: Caller
    token: str
    csrf: str


class SessionCodec:
    def __init__(self, cipher: PersonalDataCipher, clock: Callable[[], float] = time.time):
        # Derived, not shared: the cookie key is never the key of the personal data.
        raw = bytes.fromhex(cipher.blind_index("staff-console", "session-cookie", "v1"))
        self._fernet = Fernet(base64.urlsafe_b64encode(raw))
        self.clock = clock

    def seal(self, token: str, csrf: str) -> str:
        payload = json.dumps({"t": token, "c": csrf}).encode()
        return self._fernet.encrypt_at_time(payload, int(self.clock())).decode("ascii")

    def open(self, value: str, idle_seconds: float) -> tuple[str, str, bool]:
        """(token, csrf, expired); InvalidToken when the cookie is not one we sealed."""
        raw = value.encode("ascii", "replace")
        sealed_at = self._fernet.extract_timestamp(raw)  # verifies the signature
        data = json.loads(self._fernet.decrypt(raw))
        token, csrf = data.get("t"), data.get("c")
        if not isinstance(token, str) or not isinstance(csrf, str):
            raise InvalidToken
        now = self.clock()
        # A cookie from the future (a clock turned back) is treated like a stale one.
        expired = now - sealed_at > idle_seconds or sealed_at - now > 60
        return token, csrf, expired


def codec_of(request: Request) -> SessionCodec:
    return request.app.state.console_codec  # type: ignore[no-any-return]


def _state(request: Request) -> AppState:
    return request.app.state.hotline  # type: ignore[no-any-return]


def load_session(request: Request, session: Session) -> ConsoleSession:
    """The signed-in staff member, or NeedsSignIn."""
    value = request.cookies.get(COOKIE)
    if not value or len(value) > _MAX_COOKIE:
        raise NeedsSignIn()
    settings = _state(request).settings
    try:
        token, csrf, expired = codec_of(request).open(value, settings.console_idle_minutes * 60)
    except (InvalidToken, ValueError, TypeError):
        raise NeedsSignIn() from None
    if expired:
        revoke_token(session, token)
        raise NeedsSignIn(expired=True)
    user = user_for_token(session, token)
    if user is None:
        raise NeedsSignIn(ended=True)
    return ConsoleSession(caller=Caller.of(user), token=token, csrf=csrf)


def cookie_secure(request: Request) -> bool:
    forced = _state(request).settings.console_cookie_secure
    return forced if forced is not None else request.url.scheme == "https"


def _set_session_cookie(request: Request, response: Response, token: str, csrf: str) -> None:
    response.set_cookie(
        COOKIE,
        codec_of(request).seal(token, csrf),
        path=COOKIE_PATH,
        httponly=True,
        secure=cookie_secure(request),
        samesite="strict",
    )


def keep_alive(request: Request, response: Response, sess: ConsoleSession) -> Response:
    """Re-seals the cookie with the current time: the person was active just now."""
    _set_session_cookie(request, response, sess.token, sess.csrf)
    return response


def start(request: Request, response: Response, token: str) -> Response:
    """A fresh session (a new token and a new CSRF secret) after signing in."""
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    _set_session_cookie(request, response, token, secrets.token_urlsafe(32))
    return response


def end(response: Response, request: Request) -> Response:
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, httponly=True, secure=cookie_secure(request), samesite="strict"
    )
    return response


def login_csrf(request: Request) -> str:
    """The sign-in form's token (double submit: the same value in a cookie and the form)."""
    current = request.cookies.get(LOGIN_COOKIE)
    if current and 20 <= len(current) <= 100:
        return current
    return secrets.token_urlsafe(32)


def set_login_csrf(request: Request, response: Response, value: str) -> Response:
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        path=COOKIE_PATH,
        httponly=True,
        secure=cookie_secure(request),
        samesite="strict",
    )
    return response


def same_secret(given: object, expected: str | None) -> bool:
    return (
        isinstance(given, str)
        and bool(expected)
        and hmac.compare_digest(given.encode(), str(expected).encode())
    )
