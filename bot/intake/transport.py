"""How the bot reaches the intake API: over HTTP, or in-process when both share one process.

Both transports speak the same few calls and raise the same two errors, so the outbox and the
reply poller do not care which one they have.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx


class Unavailable(Exception):
    """The API cannot answer now; try again later."""


class Rejected(Exception):
    """The API refused the request; retrying the same request cannot help."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class IntakeTransport(Protocol):
    def create(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]: ...

    def append(self, reference_code: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def status(self, reference_code: str) -> dict[str, Any] | None: ...

    def call(self, reference_code: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def claim_replies(self, limit: int, channels: list[str]) -> list[dict[str, Any]]: ...

    def report_delivery(self, reply_id: int, delivered: bool, error: str | None) -> None: ...

    def close(self) -> None: ...


class HttpTransport:
    def __init__(self, base_url: str, token: str, timeout: float = 5.0) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def _call(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise Unavailable(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise Unavailable(f"HTTP {response.status_code}")
        return response

    @staticmethod
    def _ok(response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", ""))
            except ValueError:
                detail = response.text[:200]
            raise Rejected(response.status_code, detail)
        return response.json()

    def create(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        response = self._call(
            "POST", "/api/v1/intake", json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return self._ok(response)

    def append(self, reference_code: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._call(
            "POST", f"/api/v1/tickets/by-reference/{reference_code}/messages", json=body
        )
        return self._ok(response)

    def call(self, reference_code: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._call(
            "POST", f"/api/v1/tickets/by-reference/{reference_code}/calls", json=body
        )
        return self._ok(response)

    def status(self, reference_code: str) -> dict[str, Any] | None:
        response = self._call("GET", f"/api/v1/tickets/by-reference/{reference_code}")
        if response.status_code == 404:
            return None
        return self._ok(response)

    def claim_replies(self, limit: int, channels: list[str]) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "channel": channels}
        response = self._call("POST", "/api/v1/outbound/replies/claim", params=params)
        return self._ok(response)  # type: ignore[return-value]

    def report_delivery(self, reply_id: int, delivered: bool, error: str | None) -> None:
        body = {"state": "delivered" if delivered else "failed", "error": error}
        self._ok(self._call("POST", f"/api/v1/outbound/replies/{reply_id}/result", json=body))

    def close(self) -> None:
        self._client.close()
