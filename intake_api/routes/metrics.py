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
    # Unhandled faults of this process by route template and exception name (never what the
    # request said), beside the series of intake_api.metrics.
    lines = [
        "# HELP hotline_unhandled_errors_total Requests that failed with an unhandled error.",
        "# TYPE hotline_unhandled_errors_total counter",
    ]
    for (route, error), count in sorted(state.errors.items()):
        lines.append(f'hotline_unhandled_errors_total{{route="{route}",error="{error}"}} {count}')
    faults = ("\n".join(lines) + "\n").encode()
    return Response(render([app_registry(state.gauges)]) + faults, media_type=CONTENT_TYPE_LATEST)
