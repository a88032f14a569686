"""Sign-in: the OAuth2 password form gives a bearer token; repeated failures lock the name."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import col, delete, func, select

from intake_api.audit import record
from intake_api.db import utcnow
from intake_api.deps import SessionDep, SettingsDep
from intake_api.models import LoginFailure, User
from intake_api.passwords import verify_password
from intake_api.schemas import TokenOut
from intake_api.tokens import issue_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=TokenOut)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    username = form.username.strip().lower()[:200]
    now = utcnow()
    window_start = now - timedelta(seconds=settings.login_window_seconds)
    failures = session.exec(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.username == username, LoginFailure.at > window_start
        )
    ).one()
    if failures[0] >= settings.login_max_failures:
        retry_after = int((failures[1] - window_start).total_seconds()) + 1
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail="Too many failed sign-ins for this name; wait before trying again.",
            headers={"Retry-After": str(max(retry_after, 1))},
        )
    user = session.exec(select(User).where(User.username == username)).first()
    ok = verify_password(user.password_hash if user else None, form.password[:256])
    if not ok or user is None or not user.active:
        session.add(LoginFailure(username=username, at=now))
        session.commit()
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Wrong username or password.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    session.exec(delete(LoginFailure).where(col(LoginFailure.username) == username))  # type: ignore[call-overload]
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    token = issue_token(session, user, ttl, label="login")
    record(session, user.username, "login")
    session.commit()
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()))
