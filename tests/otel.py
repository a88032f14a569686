"""A global OpenTelemetry tracer provider that records who asked it for a tracer: with one
configured, FastAPI's built-in telemetry (0.165 and later) exports every request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from opentelemetry import trace


class RecordingTracerProvider(trace.TracerProvider):
    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> trace.Tracer:
        self.asked.append(instrumenting_module_name)
        return trace.NoOpTracer()


@contextmanager
def global_tracer_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingTracerProvider]:
    """Configured as the environment would (`FASTAPI_OTEL_AUTO_CONFIGURE`, an SDK's set-up),
    undone afterwards (the real global can be set only once per process)."""
    provider = RecordingTracerProvider()
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    yield provider
