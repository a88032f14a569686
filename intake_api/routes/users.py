"""Accounts, for admins."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlmodel import select

from intake_api.audit import record
from intake_api.deps import AdminDep, SessionDep
from intake_api.models import User
from intake_api.schemas import UserIn, UserOut
from intake_api.users import UserError, create_user

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def _out(user: User) -> UserOut:
    return UserOut(
        id=user.id,  # type: ignore[arg-type]
        username=user.username,
        roles=sorted(user.role_set),
        agency=user.agency,
        active=user.active,
        full_name=user.full_name,
    )


@router.get("", response_model=list[UserOut])
def list_users(caller: AdminDep, session: SessionDep) -> list[UserOut]:
    return [_out(u) for u in session.exec(select(User).order_by(User.username)).all()]


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def post_user(body: UserIn, caller: AdminDep, session: SessionDep) -> UserOut:
    try:
        user = create_user(
            session, body.username, body.password, list(body.roles), body.agency, body.full_name
        )
    except UserError as exc:
        code = 409 if "already exists" in str(exc) else 422
        raise HTTPException(status_code=code, detail=str(exc)) from None
    record(session, caller.username, "user_created", None, user.username)
    session.commit()
    return _out(user)
