"""Creating and changing accounts; shared by the admin API and the `hotline users` commands."""

from __future__ import annotations

from sqlmodel import Session, select

from intake_api.enums import Role
from intake_api.models import User
from intake_api.passwords import hash_password, password_problem


class UserError(ValueError):
    pass


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: list[str],
    agency: str | None = None,
    full_name: str | None = None,
) -> User:
    username = username.strip().lower()
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    try:
        role_values = sorted({Role(r).value for r in roles})
    except ValueError:
        raise UserError(f"unknown role in {roles}; roles are {', '.join(Role)}") from None
    if not role_values:
        raise UserError("give at least one role")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise UserError(f"a user named '{username}' already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        roles=",".join(role_values),
        agency=agency,
        full_name=full_name,
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def set_password(session: Session, username: str, password: str) -> User:
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise UserError(f"there is no user named '{username}'")
    user.password_hash = hash_password(password)
    session.add(user)
    session.commit()
    return user
