"""Dependencies a route declares: the session, the caller, and what the caller may do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from intake_api.audit import record
from intake_api.config import Settings
from intake_api.enums import Role
from intake_api.identity import FILING_ROLES, TICKET_ROLES, Caller
from intake_api.state import AppState
from intake_api.tokens import user_for_token

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_state(request: Request) -> AppState:
    return request.app.state.hotline


def get_settings_dep(state: Annotated[AppState, Depends(get_state)]) -> Settings:
    return state.settings


def get_session(state: Annotated[AppState, Depends(get_state)]) -> Iterator[Session]:
    with Session(state.engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_caller(session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Caller:
    unauthorized = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Sign in first: send a valid bearer token from POST /api/v1/auth/token.",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if not token or len(token) > 200:
        raise unauthorized
    user = user_for_token(session, token)
    if user is None:
        raise unauthorized
    return Caller.of(user)


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(*roles: Role) -> Callable[[Caller], Caller]:
    wanted = frozenset(roles)

    def check(caller: CallerDep, session: SessionDep) -> Caller:
        if not caller.roles & wanted:
            names = ", ".join(sorted(wanted))
            # A refused attempt is accountable too (docs/api.md): who tried what.
            record(session, caller.username, "forbidden", None, f"needs one of: {names}")
            session.commit()
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail=f"This needs one of these roles: {names}.",
            )
        return caller

    return check


StaffDep = Annotated[Caller, Depends(require(*TICKET_ROLES))]
# Files tickets and follows up on its own: the bot or a partner integration.
FilerDep = Annotated[Caller, Depends(require(*FILING_ROLES))]
# The configured bot alone: reporter look-ups and outbound replies.
BotDep = Annotated[Caller, Depends(require(Role.service))]
SupervisorDep = Annotated[Caller, Depends(require(Role.supervisor))]
AdminDep = Annotated[Caller, Depends(require(Role.admin))]
