"""The Zalo OA access token and its single-use refresh token (OAuth v4).

Zalo issues an access token that lives about 25 hours and a refresh token that lives about three
months but works exactly once: every refresh returns a new pair and kills the old refresh token,
and presenting it again gives error -14020 (docs/platforms.md section 2.2). Losing the new
pair therefore locks the bot out until an OA admin re-authorizes the app in a browser. Hence:

- one refresh at a time per process (an `asyncio.Lock`), and a caller that saw a token fail only
  refreshes if nobody has replaced that token meanwhile;
- the new pair goes to the `save` callback at once, so the bot can keep it in its database;
- an optional `load` callback is read before each refresh, so a process adopts a pair another
  process already obtained instead of spending a refresh token that is already dead.

Tokens and the app secret are credentials: they never appear in a log line, an exception or a
repr.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

log = logging.getLogger(__name__)

# `save(access_token, refresh_token, expires_at)`; may be sync or async.
TokenSaver = Callable[[str, str, datetime], Awaitable[None] | None]
# `load() -> (access_token, refresh_token, expires_at) | None`; may be sync or async.
TokenLoader = Callable[
    [],
    Awaitable[tuple[str, str, datetime | None] | None] | tuple[str, str, datetime | None] | None,
]

REFRESH_PATH = "/v4/oa/access_token"
# Refresh this long before the access token expires, so no send meets an expired token.
REFRESH_MARGIN = timedelta(minutes=30)
# Zalo's documented access token lifetime, used when a reply lacks a usable `expires_in`
# (docs/platforms.md 2.2). If it is in fact shorter, the -216 path still recovers.
DEFAULT_LIFETIME = timedelta(hours=25)
# After a failed proactive refresh, wait this long before trying again, so a dead refresh token
# does not cost an OAuth call on every send.
PROACTIVE_RETRY_PAUSE = timedelta(minutes=1)


class ZaloTokenError(Exception):
    """A refresh failed. `code` is Zalo's error number when it gave one (e.g. -14020)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class ZaloTokens:
    """Holds the current token pair; refreshes it when asked or when expiry is near."""

    def __init__(
        self,
        *,
        app_id: str | None,
        app_secret: str | None,
        access_token: str,
        refresh_token: str | None,
        client: httpx.AsyncClient,
        oauth_base: str = "https://oauth.zaloapp.com",
        expires_at: datetime | None = None,
        save: TokenSaver | None = None,
        load: TokenLoader | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._access_token = access_token
        self._refresh_token = refresh_token
        self._expires_at = expires_at
        self._client = client
        self._url = oauth_base.rstrip("/") + REFRESH_PATH
        self._save = save
        self._load = load
        self._clock = clock or _utcnow
        self._lock = asyncio.Lock()
        self._proactive_paused_until: datetime | None = None

    def __repr__(self) -> str:
        return f"ZaloTokens(app_id={self._app_id!r}, expires_at={self._expires_at!r})"

    @property
    def expires_at(self) -> datetime | None:
        """When the access token expires; None when unknown (a token from configuration)."""
        return self._expires_at

    async def current(self) -> str:
        """The access token to use now, refreshed first when it is about to expire."""
        now = self._clock()
        near_expiry = self._expires_at is not None and self._expires_at - now <= REFRESH_MARGIN
        paused = self._proactive_paused_until is not None and now < self._proactive_paused_until
        if near_expiry and not paused:
            try:
                return await self.refresh(stale=self._access_token)
            except ZaloTokenError as exc:
                # The token may still be valid for a while; a send that fails with it takes
                # the -216 path, which reports the failure to the caller.
                self._proactive_paused_until = now + PROACTIVE_RETRY_PAUSE
                log.warning("zalo proactive token refresh failed (error %s)", exc.code)
        return self._access_token

    async def refresh(self, stale: str | None = None) -> str:
        """Gets a new token pair and returns the new access token.

        `stale` is the access token the caller saw fail (or expire). When it is no longer the
        current one, another caller has refreshed already and the current token is returned, so
        concurrent failures spend one refresh token, not several.
        """
        async with self._lock:
            if stale is not None and stale != self._access_token:
                return self._access_token
            if self._load is not None:
                adopted = await self._adopt_stored_pair(stale)
                if adopted:
                    return self._access_token
            pair = await self._request_new_pair()
            self._access_token, self._refresh_token, self._expires_at = pair
            self._proactive_paused_until = None
            # Persist before anything else can fail: the old refresh token is already dead.
            await self._persist(pair)
            log.info(
                "zalo access token refreshed; valid for %d s",
                (pair[2] - self._clock()).total_seconds(),
            )
            return self._access_token

    async def _adopt_stored_pair(self, stale: str | None) -> bool:
        """Takes the stored pair when another process has refreshed since we last looked."""
        assert self._load is not None
        try:
            stored = await _maybe_await(self._load())
        except Exception as exc:  # the store is the caller's; a failure must not block refresh
            log.warning("zalo token store could not be read (%s)", type(exc).__name__)
            return False
        if not stored:
            return False
        access, refresh, expires_at = stored
        # A stored access token other than ours and other than the failed one means another
        # process refreshed. Anything else is our own pair or an older one (a save that
        # failed), whose refresh token may already be dead.
        if access and access not in (self._access_token, stale):
            self._access_token = access
            self._refresh_token = refresh or self._refresh_token
            self._expires_at = expires_at
            return True
        return False

    async def _request_new_pair(self) -> tuple[str, str, datetime]:
        if not (self._app_id and self._app_secret and self._refresh_token):
            raise ZaloTokenError(
                "cannot refresh the Zalo token: app id, app secret or refresh token not configured"
            )
        try:
            response = await self._client.post(
                self._url,
                data={
                    "refresh_token": self._refresh_token,
                    "app_id": self._app_id,
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": self._app_secret},
            )
        except httpx.HTTPError as exc:
            raise ZaloTokenError(f"Zalo token refresh failed: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ZaloTokenError(
                f"Zalo token refresh failed: HTTP {response.status_code}, no JSON object"
            )
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if response.status_code != 200 or not isinstance(access, str) or not access:
            code = body.get("error")
            code = code if isinstance(code, int) else None
            # -14020 and similar mean the refresh token is dead: only an admin can fix that.
            raise ZaloTokenError(
                f"Zalo token refresh failed: HTTP {response.status_code}, error {code}; an OA "
                "admin may need to re-authorize the app",
                code=code,
            )
        if not isinstance(refresh, str) or not refresh:
            # Zalo always rotates; if it ever does not, the old refresh token is all we have.
            refresh = self._refresh_token
        return access, refresh, self._clock() + _lifetime(body.get("expires_in"))

    async def _persist(self, pair: tuple[str, str, datetime]) -> None:
        if self._save is None:
            return
        try:
            await _maybe_await(self._save(*pair))
        except Exception as exc:
            # The pair in memory is valid and the old one is dead, so carry on with it; but a
            # restart now would lose access, which an operator must know about.
            log.error(
                "zalo token pair could not be saved (%s); a restart will need re-authorization",
                type(exc).__name__,
            )


def _lifetime(expires_in: object) -> timedelta:
    """`expires_in` in seconds; Zalo sends it as a number or a numeric string."""
    try:
        seconds = int(str(expires_in).strip())
    except ValueError:
        return DEFAULT_LIFETIME
    return timedelta(seconds=seconds) if seconds > 0 else DEFAULT_LIFETIME
