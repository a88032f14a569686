"""What one running API holds: settings, the database engine, the personal-data cipher and the
count of faults it met (GET /metrics)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from intake_api.config import Settings
from intake_api.crypto import PersonalDataCipher
from intake_api.metrics import QueryGauges


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    cipher: PersonalDataCipher
    # Parts served beside the API that report their own health in /healthz (the bot's
    # channels in the combined app): name → a JSON-able report, with "degraded" when down.
    health_reports: dict[str, Callable[[], dict[str, str]]] = field(default_factory=dict)
    # Gauges read from the database at scrape time (/metrics); the bot adds its own.
    gauges: QueryGauges = field(default_factory=QueryGauges)
    # (route template, exception type) -> how many requests failed with it in this process.
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
