"""What one running API holds: settings, the database engine and the personal-data cipher."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from intake_api.config import Settings
from intake_api.crypto import PersonalDataCipher


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    cipher: PersonalDataCipher
