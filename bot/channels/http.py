"""The HTTP transport under the platforms' clients (python-telegram-bot's and the Zalo
channel's httpx clients).

httpx's own connection pool (httpcore 1.0) walks every pooled connection for every queued
request, each time a request starts or ends: its CPU per request grows with the number of
sends in flight. Against a platform that keeps connections alive (Telegram, Zalo) with 64
replies on their way, a send cost 5.4 ms of CPU instead of 1.8 ms at 16 (`bench/platform_send.py`;
the upstream issue: encode/httpcore#1035), and under the load bench the sends took a quarter
of the service's CPU. aiohttp's connector keeps its pool per host and parses in C; httpx's API
(what python-telegram-bot is written against) stays, through httpx-aiohttp's transport.
"""

from __future__ import annotations

import functools
import ssl

import httpx
from aiohttp import ClientSession
from httpx_aiohttp import AiohttpTransport


class PlatformTransport(AiohttpTransport):
    """httpx-aiohttp's transport, opening a new session after its client was closed.

    A channel's client is closed at shutdown, and python-telegram-bot builds a new httpx client
    around the same transport when it is initialised again: the transport must not stay
    bound to the closed session. The session itself is made on the first request, inside the
    event loop that sends."""

    def __init__(self, max_connections: int = 100) -> None:
        super().__init__(
            verify=_certificates(), limits=httpx.Limits(max_connections=max_connections)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if isinstance(self.client, ClientSession) and self.client.closed:
            self.client = None
        return await super().handle_async_request(request)

    async def aclose(self) -> None:
        await super().aclose()
        self.client = None


@functools.cache
def _certificates() -> ssl.SSLContext:
    # Loading the certificate store costs about 30 ms; one context serves every connection.
    return httpx.create_ssl_context()
