"""Opaque bearer tokens: random, stored only as SHA-256, revocable, with an expiry."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from intake_api.audit import record
from intake_api.db import utcnow
from intake_api.models import ApiToken, User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, ttl: timedelta, label: str | None = None) -> str:
    token = "hl_" + secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=_digest(token),
            label=label[:100] if label else None,
            expires_at=utcnow() + ttl,
        )
    )
    session.commit()
    return token


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    now = now or utcnow()
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.revoked or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def revoke_token(session: Session, token: str) -> bool:
    """Revokes one token (a signed-out console session); False when no such token exists."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None:
        return False
    row.revoked = True
    session.add(row)
    session.commit()
    return True


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.exec(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_tokens(
    session: Session, user: User, actor: str, token_ids: list[int] | None = None
) -> int:
    """Revokes the account's tokens (those with `token_ids`, or all); they stop working at
    once. Returns how many were still valid and are now revoked."""
    stmt = select(ApiToken).where(ApiToken.user_id == user.id, col(ApiToken.revoked).is_(False))
    if token_ids is not None:
        stmt = stmt.where(col(ApiToken.id).in_(token_ids))
    rows = list(session.exec(stmt))
    for row in rows:
        row.revoked = True
        session.add(row)
    detail = f"{user.username}: {len(rows)} token(s)"
    record(session, actor, "tokens_revoked", None, detail)
    session.commit()
    return len(rows)
