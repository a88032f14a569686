"""`GET /metrics` in Prometheus' text format: counts, latencies, depths; no personal data."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from intake_api.deps import StateDep
from intake_api.metrics import app_registry, render

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
def metrics(state: StateDep) -> Response:
    return Response(render([app_registry(state.gauges)]), media_type=CONTENT_TYPE_LATEST)
