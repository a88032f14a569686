"""Sign-in: the OAuth2 password form gives a bearer token; attempts are throttled per account
and per client address (intake_api.throttle), and failures and throttling are audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from sqlmodel import Session, select

from intake_api import throttle
from intake_api.audit import record
from intake_api.deps import SessionDep, SettingsDep, get_state
from intake_api.errors import WITH_BODY, error_responses
from intake_api.models import User
from intake_api.passwords import verify_password
from intake_api.schemas import NO_NUL_PATTERN, TokenOut
from intake_api.state import AppState
from intake_api.tokens import issue_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class SignInForm:
    """The OAuth2 password grant's form (what Swagger UI's Authorize sends)."""

    def __init__(
        self,
        username: Annotated[str, Form(min_length=1, max_length=200, pattern=NO_NUL_PATTERN)],
        password: Annotated[str, Form(min_length=1, max_length=256, pattern=NO_NUL_PATTERN)],
        grant_type: Annotated[str | None, Form(pattern=r"^password$")] = None,
    ) -> None:
        self.username = username.strip().lower()
        self.password = password


def _actor(session: Session, username: str) -> str:
    # A typed name that is no account (perhaps a password typed in the wrong box) is not kept.
    exists = session.exec(select(User.id).where(User.username == username[:64])).first()
    return username[:64] if exists is not None else "unknown"


@router.post(
    "/token",
    response_model=TokenOut,
    responses=error_responses(401, 429, *WITH_BODY),
)
def login(
    form: Annotated[SignInForm, Depends()],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    state: Annotated[AppState, Depends(get_state)],
) -> TokenOut:
    address = request.client.host if request.client else "unknown"
    key = throttle.keys(state.cipher, address, form.username)
    verdict = throttle.reserve(session, settings, key)
    if not verdict.allowed:
        record(session, _actor(session, form.username), "login_throttled", None, verdict.held_by)
        session.commit()
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=(
                "Too many failed sign-ins for this account or from this address; "
                f"wait {verdict.retry_after} seconds before trying again."
            ),
            headers={"Retry-After": str(verdict.retry_after)},
        )
    user = session.exec(select(User).where(User.username == form.username)).first()
    ok = verify_password(user.password_hash if user else None, form.password)
    if not ok or user is None or not user.active:
        record(session, _actor(session, form.username), "login_failed", None, None)
        session.commit()
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Wrong username or password.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    throttle.succeeded(session, key)
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    token = issue_token(session, user, ttl, label="login")
    record(session, user.username, "login")
    session.commit()
    return TokenOut(access_token=token, expires_in=int(ttl.total_seconds()))
