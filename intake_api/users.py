"""Creating and changing accounts; shared by the admin API, the staff console and the `hotline
users` commands."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, select

from intake_api.enums import Role
from intake_api.models import User
from intake_api.passwords import hash_password, password_problem


class UserError(ValueError):
    pass


def parse_roles(roles: Iterable[str]) -> list[str]:
    """The roles as stored (sorted, no repeats); an unknown or missing role is refused."""
    given = list(roles)
    try:
        role_values = sorted({Role(r).value for r in given})
    except ValueError:
        raise UserError(f"unknown role in {given}; roles are {', '.join(Role)}") from None
    if not role_values:
        raise UserError("give at least one role")
    return role_values


def check_agency(agency: str | None, known_agencies: Iterable[str]) -> None:
    """An account may only name an agency the deployment has (intake_api.rules.agencies)."""
    known = sorted(known_agencies)
    if agency is not None and agency not in known:
        raise UserError(f"unknown agency '{agency}'; configured agencies are {', '.join(known)}")


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
    role_values = parse_roles(roles)
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


def update_user(
    session: Session,
    username: str,
    roles: Iterable[str],
    agency: str | None,
    known_agencies: Iterable[str],
    full_name: str | None = None,
) -> User:
    """Sets an account's roles, agency and name; the next request of any of its sessions
    already works with them (the caller is read from the account on every request)."""
    role_values = parse_roles(roles)
    check_agency(agency, known_agencies)
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise UserError(f"there is no user named '{username}'")
    user.roles = ",".join(role_values)
    user.agency = agency
    user.full_name = full_name
    session.add(user)
    session.commit()
    session.refresh(user)
    return user
