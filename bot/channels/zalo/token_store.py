"""Where the Zalo channel keeps its token pair across restarts, encrypted in the database: the
refresh token is single-use, so losing the newest pair would cut the OA off."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.models import SecretValue
from intake_api.db import utcnow

ZALO_TOKENS = "zalo_tokens"


class TokenStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, access: str, refresh: str, expires_at: datetime | None) -> None:
        value = {
            "access": access,
            "refresh": refresh,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        with Session(self._engine) as session:
            row = session.get(SecretValue, ZALO_TOKENS) or SecretValue(name=ZALO_TOKENS, value={})
            row.value = value
            row.updated_at = utcnow()
            session.add(row)
            session.commit()

    def load(self) -> tuple[str, str, datetime | None] | None:
        with Session(self._engine) as session:
            row = session.get(SecretValue, ZALO_TOKENS)
        if row is None:
            return None
        expires = row.value.get("expires_at")
        return (
            row.value["access"],
            row.value["refresh"],
            datetime.fromisoformat(expires) if expires else None,
        )
