"""Accounts and the agencies in force, for admins: `intake_api.users` and `intake_api.tokens` do
the work, as they do for the API's /users and the `hotline users` and `hotline tokens` commands
(the same rules, the same audit records)."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlmodel import Session, select

from intake_api.console.session import ConsoleSession
from intake_api.console.web import PREFIX, SignedIn, form_of, go, page, require, settings_of
from intake_api.deps import SessionDep
from intake_api.enums import Role
from intake_api.models import User
from intake_api.schemas import UserIn
from intake_api.tokens import revoke_tokens
from intake_api.users import (
    LastAdmin,
    UserConflict,
    UserError,
    check_agency,
    create_user,
    find_user,
    set_active,
    set_password,
    update_user,
)

router = APIRouter(prefix=f"{PREFIX}/admin", include_in_schema=False)

# Roles a person can hold; `service` accounts (bots, partners) are made with `hotline users`.
STAFF_ROLES = [Role.operator, Role.police, Role.dolisa, Role.supervisor, Role.admin]


def _admin_page(
    request: Request, sess: ConsoleSession, db: Session, status_code: int = 200, **extra: Any
) -> Response:
    settings = settings_of(request)
    users = db.exec(select(User).order_by(User.username)).all()
    context: dict[str, Any] = {"error": "", "draft": {}, "one_time": None, **extra}
    return page(
        request,
        sess,
        "admin.html",
        status_code,
        users=users,
        roles=[r.value for r in STAFF_ROLES],
        agencies=settings.agencies,
        agency_names={a.code: a.name for a in settings.agencies},
        **context,
    )


def _problem(exc: Exception) -> str:
    """An error code the template words; the domain's sentences are English."""
    if isinstance(exc, ValidationError):
        field = str(exc.errors()[0]["loc"][0]) if exc.errors() else ""
        return {"username": "bad_username", "password": "short_password"}.get(
            field, "bad_roles" if field == "roles" else "invalid"
        )
    if isinstance(exc, LastAdmin):
        return "last_admin"
    if isinstance(exc, UserConflict):
        return "own_account"
    text = str(exc)
    if "no user named" in text:
        return "no_user"
    if "already exists" in text:
        return "exists"
    if "password" in text:
        return "short_password"
    if "agency" in text:
        return "bad_agency"
    if "role" in text:
        return "bad_roles"
    return "invalid"


def _roles(form: Any) -> list[str]:
    allowed = {r.value for r in STAFF_ROLES}
    return [r for r in form.getlist("roles") if isinstance(r, str) and r in allowed]


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


@router.get("")
def admin_home(request: Request, sess: SignedIn, db: SessionDep) -> Response:
    require(sess, {Role.admin})
    return _admin_page(request, sess, db)


@router.post("/users")
async def create(request: Request, sess: SignedIn, db: SessionDep) -> Response:
    require(sess, {Role.admin})
    form = await form_of(request, sess)
    random = form.get("random") == "1"
    password = secrets.token_urlsafe(15) if random else _text(form, "password")
    draft = {
        "username": _text(form, "username")[:64],
        "full_name": _text(form, "full_name")[:200],
        "roles": _roles(form),
        "agency": _text(form, "agency"),
    }
    try:
        body = UserIn(
            username=draft["username"],
            password=password,
            roles=draft["roles"],
            agency=draft["agency"] or None,
            full_name=draft["full_name"] or None,
        )
        check_agency(body.agency, settings_of(request).agency_codes)
        user = create_user(
            db,
            body.username,
            body.password,
            list(body.roles),
            body.agency,
            body.full_name,
            agencies=settings_of(request).agency_codes,
            actor=sess.caller.username,
        )
    except (ValidationError, UserError) as exc:
        return _admin_page(request, sess, db, 422, error=_problem(exc), draft=draft)
    if random:
        # Shown once in this answer, never put in a URL or a log.
        one_time = {"username": user.username, "password": password}
        return _admin_page(request, sess, db, 200, one_time=one_time, done="created")
    return go(request, sess, "/admin", ok="created")


@router.post("/users/{username}/roles")
async def change_roles(username: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    require(sess, {Role.admin})
    form = await form_of(request, sess)
    roles = _roles(form)
    if username == sess.caller.username and Role.admin not in roles:
        # Nobody locks themselves (and perhaps everyone) out of administration by a click.
        return _admin_page(request, sess, db, 422, error="own_admin")
    try:
        user = update_user(
            db,
            username,
            roles,
            _text(form, "agency") or None,
            settings_of(request).agency_codes,
            _text(form, "full_name")[:200] or None,
            actor=sess.caller.username,
        )
    except UserError as exc:
        return _admin_page(request, sess, db, 422, error=_problem(exc))
    return go(request, sess, "/admin", anchor=f"user-{user.username}", ok="updated")


@router.post("/users/{username}/password")
async def reset_password(
    username: str, request: Request, sess: SignedIn, db: SessionDep
) -> Response:
    require(sess, {Role.admin})
    form = await form_of(request, sess)
    random = form.get("random") == "1"
    password = secrets.token_urlsafe(15) if random else _text(form, "password")
    try:
        user = set_password(db, username, password, actor=sess.caller.username)
    except UserError as exc:
        return _admin_page(request, sess, db, 422, error=_problem(exc))
    if random:
        one_time = {"username": user.username, "password": password}
        return _admin_page(request, sess, db, 200, one_time=one_time, done="password")
    return go(request, sess, "/admin", anchor=f"user-{user.username}", ok="password")


@router.post("/users/{username}/active")
async def change_active(
    username: str, request: Request, sess: SignedIn, db: SessionDep
) -> Response:
    """Disables an account (or enables it again). Disabling may revoke its tokens too: then
    enabling it later does not bring back a session or a token that was out of the admin's
    hands (a stolen laptop, a leaked service token); the person signs in afresh."""
    require(sess, {Role.admin})
    form = await form_of(request, sess)
    active = form.get("active") == "1"
    try:
        # The domain refuses disabling oneself; with it, the last active admin cannot be
        # disabled either, since only an active admin can disable anyone here.
        user = set_active(db, username, active, actor=sess.caller.username)
    except UserError as exc:
        return _admin_page(request, sess, db, 422, error=_problem(exc))
    if not active and form.get("revoke") == "1":
        revoke_tokens(db, user, sess.caller.username)
        return go(request, sess, "/admin", anchor=f"user-{user.username}", ok="disabled_revoked")
    ok = "enabled" if active else "disabled"
    return go(request, sess, "/admin", anchor=f"user-{user.username}", ok=ok)


@router.post("/users/{username}/tokens")
async def revoke(username: str, request: Request, sess: SignedIn, db: SessionDep) -> Response:
    """Revokes every token of the account: its console sessions end at their next request and
    its API tokens answer 401; the account itself stays as it is."""
    require(sess, {Role.admin})
    await form_of(request, sess)
    try:
        user = find_user(db, username)
    except UserError as exc:
        return _admin_page(request, sess, db, 422, error=_problem(exc))
    revoke_tokens(db, user, sess.caller.username)
    # Revoking one's own tokens ends this very session: the next page asks to sign in again.
    return go(request, sess, "/admin", anchor=f"user-{user.username}", ok="revoked")
