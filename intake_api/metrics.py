"""What the service tells its operators (Prometheus, `/metrics`): counts, latencies and the
depth of what waits. One home for every series; never a label that could carry personal
data (channels, priorities and reasons only)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from intake_api.db import utcnow
from intake_api.enums import CLOSED_STATUSES
from intake_api.models import Ticket

MESSAGES_IN = Counter("hotline_messages_in", "Messages stored from people, by channel", ["channel"])
TICKETS_FILED = Counter(
    "hotline_tickets_filed", "Tickets created, by priority and channel", ["priority", "channel"]
)
TRIAGE_SECONDS = Histogram(
    "hotline_triage_seconds",
    "Time to triage a conversation",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1),
)
NLU_SECONDS = Histogram(
    "hotline_nlu_parse_seconds",
    "Time to parse one message",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 2.0),
)
DELIVERY_FAILURES = Counter(
    "hotline_delivery_failures",
    "Messages to people that a platform refused or could not take, by channel and reason",
    ["channel", "reason"],
)
VOICE_CALLS = Counter("hotline_voice_calls", "Calls to the voice hotline (counted once per call)")
VOICE_CALLS_ENDED = Counter(
    "hotline_voice_calls_ended",
    "Voice calls at their end, by outcome: answered by a person, recorded, information only, or "
    "a call-back owed (missed, abandoned, after_hours)",
    ["outcome"],
)
HTTP_5XX = Counter(
    "hotline_http_5xx", "Answers with a 5xx status (never expected), by route", ["route"]
)

# A query returning a gauge's value, run when /metrics is scraped.
GaugeQuery = Callable[[], float]


class QueryGauges:
    """Gauges read from the database when scraped (depths and ages of what waits)."""

    def __init__(self) -> None:
        self._gauges: dict[str, tuple[str, GaugeQuery]] = {}

    def add(self, name: str, help_text: str, query: GaugeQuery) -> None:
        self._gauges[name] = (help_text, query)

    def collect(self) -> Iterator[Metric]:
        for name, (help_text, query) in sorted(self._gauges.items()):
            family = GaugeMetricFamily(name, help_text)
            family.add_metric([], query())
            yield family


def sla_breaches(engine: Engine) -> GaugeQuery:
    """Open tickets past their first-response deadline without a first response."""

    def count() -> float:
        with Session(engine) as session:
            return float(
                session.exec(
                    select(func.count())
                    .select_from(Ticket)
                    .where(col(Ticket.status).not_in(sorted(CLOSED_STATUSES)))
                    .where(col(Ticket.first_response_at).is_(None))
                    .where(col(Ticket.due_at) < utcnow())
                ).one()
            )

    return count


def app_registry(gauges: QueryGauges) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(gauges)
    return registry


def render(registries: Iterable[CollectorRegistry]) -> bytes:
    """The process-wide series, then the app's own gauges, in the text format."""
    return b"".join(generate_latest(r) for r in (REGISTRY, *registries))
