"""Accounts, for admins: create, disable or enable, revoke tokens (every change audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from sqlmodel import select

from intake_api.deps import AdminDep, SessionDep, SettingsDep
from intake_api.errors import SIGNED_IN, WITH_BODY, error_responses
from intake_api.models import User
from intake_api.schemas import TokensRevoked, UserIn, UserOut, UserPatch
from intake_api.tokens import revoke_tokens
from intake_api.users import (
    NoSuchUser,
    UserConflict,
    UserError,
    UserExists,
    create_user,
    find_user,
    set_active,
)

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=error_responses(*SIGNED_IN))

UsernameParam = Annotated[str, Path(pattern=r"^[a-z0-9_.\-]{3,64}$")]


def _out(user: User) -> UserOut:
    return UserOut(
        id=user.id,  # type: ignore[arg-type]
        username=user.username,
        roles=sorted(user.role_set),
        agency=user.agency,
        active=user.active,
        full_name=user.full_name,
    )


def _fail(exc: UserError) -> HTTPException:
    if isinstance(exc, UserExists | UserConflict):
        code = 409
    else:
        code = 404 if isinstance(exc, NoSuchUser) else 422
    detail = str(exc)
    return HTTPException(status_code=code, detail=detail[0].upper() + detail[1:] + ".")


@router.get("", response_model=list[UserOut])
def list_users(caller: AdminDep, session: SessionDep) -> list[UserOut]:
    return [_out(u) for u in session.exec(select(User).order_by(User.username)).all()]


@router.post(
    "",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, *WITH_BODY),
)
def post_user(
    body: UserIn, caller: AdminDep, session: SessionDep, settings: SettingsDep
) -> UserOut:
    """A staff or service account; `partner` is an outside integration that files tickets and
    follows up on its own. A police or DOLISA account names a configured agency."""
    try:
        user = create_user(
            session,
            body.username,
            body.password,
            list(body.roles),
            body.agency,
            body.full_name,
            agencies=settings.agency_codes,
            actor=caller.username,
        )
    except UserError as exc:
        raise _fail(exc) from None
    return _out(user)


@router.patch(
    "/{username}",
    response_model=UserOut,
    responses=error_responses(404, 409, *WITH_BODY),
)
def patch_user(
    username: UsernameParam, body: UserPatch, caller: AdminDep, session: SessionDep
) -> UserOut:
    """`{"active": false}` disables the account: it cannot sign in, its tokens stop working."""
    try:
        return _out(set_active(session, username, body.active, caller.username))
    except UserError as exc:
        raise _fail(exc) from None


@router.delete(
    "/{username}/tokens",
    response_model=TokensRevoked,
    responses=error_responses(404),
)
def delete_tokens(username: UsernameParam, caller: AdminDep, session: SessionDep) -> TokensRevoked:
    """Revokes every token of the account (a leaked service token, a lost laptop)."""
    try:
        user = find_user(session, username)
    except UserError as exc:
        raise _fail(exc) from None
    return TokensRevoked(
        username=user.username, revoked=revoke_tokens(session, user, caller.username)
    )
