"""The HTTP transport under the platforms' clients (python-telegram-bot's and the Zalo
channel's httpx clients).

httpx's own connection pool (httpcore 1.0) walks every pooled connection for every queued
request, each time a request starts or ends (encode/httpcore pull request 1035): its CPU per
request grows with the sends in flight. Against a server keeping connections alive, as
Telegram's does, a send cost 6.3 ms of CPU with 64 on their way and 1.6 ms with 16; through
aiohttp's pool 0.85 and 1.1 ms (`bench/platform_send.py`). Under the load bench the sends had
taken a quarter of the service's profile. httpx's API, which python-telegram-bot is written
against, stays: httpx-aiohttp's transport puts aiohttp's connector under it.
"""

from __future__ import annotations

import functools
import ssl
import urllib.request

import aiohttp
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
            verify=certificates(), limits=httpx.Limits(max_connections=max_connections)
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if isinstance(self.client, ClientSession) and self.client.closed:
            self.client = None
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            # httpx-aiohttp reports every aiohttp connection error as a connect timeout. What
            # an operator reads of a degraded channel must say what happened, as httpx's own
            # transport does: nothing listening or no such host, or a server hanging up.
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            if isinstance(cause, aiohttp.ServerDisconnectedError):
                raise httpx.RemoteProtocolError(str(exc), request=request) from cause
            raise

    async def aclose(self) -> None:
        await super().aclose()
        self.client = None


def platform_transport(max_connections: int = 100) -> PlatformTransport | None:
    """The transport for a platform's httpx client; None (httpx's own) when the environment
    names a proxy (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`: the way to reach Telegram where it
    is blocked). Given a transport, httpx no longer reads those variables, and aiohttp's would
    connect directly: a deployment behind a proxy keeps httpx's routing, `NO_PROXY` included."""
    if proxy_named():
        return None
    return PlatformTransport(max_connections)


def proxy_named() -> bool:
    """Whether the environment routes outbound HTTP through a proxy (`HTTPS_PROXY`,
    `HTTP_PROXY`, `ALL_PROXY`): the platforms' own clients (httpx's, requests') honour it with
    `NO_PROXY`; an aiohttp session of ours would not."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


@functools.cache
def certificates() -> ssl.SSLContext:
    """The certificate store every platform client verifies against (httpx's, certifi's):
    the same on a slim image without the system's store."""
    # Loading the certificate store costs about 30 ms; one context serves every connection.
    return httpx.create_ssl_context()
