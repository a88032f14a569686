"""Twilio's REST calls on the event loop, through one aiohttp session: the SDK's async side.

The SDK's default client (requests, run in a worker thread) cost 1.5-2.7 ms of CPU a send
against a local Twilio, 16 in flight; this one 0.55-0.63 ms (`bench/sms_send.py`, the README's
"Load and fault tests"), and it holds no thread while Twilio answers. The SDK's own
`AsyncTwilioHttpClient` is not used as it is: it opens its session when built, outside any event
loop, and gives a request no timeout unless each call passes one, so a hung Twilio would hold a
send for aiohttp's five minutes.
"""

from __future__ import annotations

import asyncio
import base64
import logging

import aiohttp
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

from bot.channels.http import certificates

# The SDK's name for its async client's logger, which logging_setup keeps quiet (its lines
# carry the account id and the headers).
_logger = logging.getLogger("twilio.async_http_client")


class TwilioTransport(AsyncHttpClient):
    """Every request bounded by `timeout` seconds in all (connecting, sending, reading the
    answer); the session is made in the event loop that first sends, and made again in a new
    loop or after `close`."""

    def __init__(self, timeout: float) -> None:
        super().__init__(_logger, is_async=True, timeout=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # The SDK's requests client verifies against certifi's store; so does this one.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=certificates())
            )
            self._loop = loop
        return self._session

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            # Basic auth as a header: aiohttp deprecates its `auth` argument.
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        async with self._session_here().request(
            method.upper(),
            uri,
            params=params,  # type: ignore[arg-type]
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
            allow_redirects=allow_redirects,
        ) as response:
            body = await response.text()
        return Response(response.status, body, response.headers)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
