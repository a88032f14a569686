"""Creating and changing accounts; shared by the admin API, the staff console and the `hotline
users` commands. Every change here is audited by its caller's name (`actor`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlmodel import Session, select

from intake_api.audit import record
from intake_api.enums import Role
from intake_api.models import User
from intake_api.passwords import hash_password, password_problem
from intake_api.rules.agencies import UnknownAgency, check_account_agency

USERNAME = re.compile(r"[a-z0-9_.\-]{3,64}")


class UserError(ValueError):
    pass


class UserExists(UserError):
    pass


class NoSuchUser(UserError):
    pass


class UserConflict(UserError):
    """The change conflicts with the account's state (disabling oneself)."""


class LastAdmin(UserConflict):
    """The change would leave no active admin."""


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
    if agency is None:
        return
    try:
        check_account_agency(known_agencies, agency)
    except UnknownAgency as exc:
        raise UserError(str(exc)) from None


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: list[str],
    agency: str | None = None,
    full_name: str | None = None,
    *,
    agencies: Iterable[str] | None = None,
    actor: str = "system",
) -> User:
    """An account. `agencies` are the configured agency codes: a police or DOLISA account
    works the tickets of its agency (`agency`, or its role's own code), which must exist."""
    username = username.strip().lower()
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    role_values = parse_roles(roles)
    if not USERNAME.fullmatch(username):
        raise UserError(
            "the user name must be 3 to 64 characters: lowercase letters, digits, '.', '_', '-'"
        )
    works_for = agency or next((r for r in role_values if r in (Role.police, Role.dolisa)), None)
    if works_for is not None:
        if agencies is None:
            raise ValueError("an agency account needs the configured agencies to check against")
        try:
            check_account_agency(agencies, works_for)
        except UnknownAgency as exc:
            raise UserError(str(exc)) from None
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise UserExists(f"a user named '{username}' already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        roles=",".join(role_values),
        agency=agency,
        full_name=full_name,
    )
    session.add(user)
    session.flush()
    record(session, actor, "user_created", None, f"{username} ({','.join(role_values)})")
    session.commit()
    session.refresh(user)
    return user


def find_user(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NoSuchUser(f"there is no user named '{username}'")
    return user


def set_password(session: Session, username: str, password: str, actor: str = "system") -> User:
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    user = find_user(session, username)
    user.password_hash = hash_password(password)
    session.add(user)
    record(session, actor, "password_set", None, user.username)
    session.commit()
    return user


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuses a change that leaves no active admin: nobody could then create, enable or fix
    an account from the console or the API (the same rule for the console, the API and the
    `hotline users` commands)."""
    if not (user.active and Role.admin.value in user.role_set):
        return
    others = session.exec(
        select(User).where(User.active == True, User.username != user.username)  # noqa: E712
    ).all()
    if not any(Role.admin.value in other.role_set for other in others):
        raise LastAdmin(f"'{user.username}' is the last active admin; make another admin first")


def set_active(session: Session, username: str, active: bool, actor: str) -> User:
    """Disables (or enables again) an account: a disabled one cannot sign in and its tokens,
    kept for the record, stop working at once."""
    user = find_user(session, username)
    if user.username == actor and not active:
        raise UserConflict("you cannot disable your own account; ask another admin")
    if not active:
        _keep_an_admin(session, user)
    if user.active != active:
        user.active = active
        session.add(user)
        record(session, actor, "user_enabled" if active else "user_disabled", None, user.username)
        session.commit()
    return user


def update_user(
    session: Session,
    username: str,
    roles: Iterable[str],
    agency: str | None,
    known_agencies: Iterable[str],
    full_name: str | None = None,
    actor: str = "system",
) -> User:
    """Sets an account's roles, agency and name; the next request of any of its sessions
    already works with them (the caller is read from the account on every request)."""
    role_values = parse_roles(roles)
    check_agency(agency, known_agencies)
    user = find_user(session, username)
    if Role.admin.value not in role_values:
        _keep_an_admin(session, user)
    user.roles = ",".join(role_values)
    user.agency = agency
    user.full_name = full_name
    session.add(user)
    record(session, actor, "user_updated", None, f"{user.username} ({','.join(role_values)})")
    session.commit()
    session.refresh(user)
    return user
