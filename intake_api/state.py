"""What one running API holds: settings, the database engine, the personal-data cipher and the
count of faults it met (GET /metrics)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from intake_api.config import Settings
from intake_api.crypto import PersonalDataCipher


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    cipher: PersonalDataCipher
    # (route template, exception type) -> how many requests failed with it in this process.
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
