"""Signing in and out of the console.

Sign-in is the API's own (`intake_api.routes.auth.login`): the same accounts, the same Argon2
check and the same throttling of repeated failures, counted together whether they came from the
API or from this form. The token it issues becomes the console session.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from intake_api.console import session as sessions
from intake_api.console.session import NeedsSignIn
from intake_api.console.web import PREFIX, page, safe_next, settings_of
from intake_api.deps import SessionDep
from intake_api.enums import Role
from intake_api.identity import TICKET_ROLES
from intake_api.routes.auth import SignInForm
from intake_api.routes.auth import login as api_login
from intake_api.tokens import revoke_token, user_for_token

router = APIRouter(prefix=PREFIX, include_in_schema=False)

CONSOLE_ROLES = TICKET_ROLES | {Role.admin}


def home_of(roles: frozenset[str]) -> str:
    if roles & TICKET_ROLES:
        return PREFIX
    return f"{PREFIX}/admin"


def _login_page(
    request: Request, status_code: int, error: str = "", next_path: str = "", **extra: object
) -> Response:
    csrf = sessions.login_csrf(request)
    response = page(
        request,
        None,
        "login.html",
        status_code,
        login_csrf=csrf,
        error=error,
        next_path=next_path,
        expired=request.query_params.get("expired") == "1",
        ended=request.query_params.get("ended") == "1",
        signed_out=request.query_params.get("signed_out") == "1",
        **extra,
    )
    return sessions.set_login_csrf(request, response, csrf)


@router.get("/login")
def login_form(request: Request, db: SessionDep) -> Response:
    next_path = safe_next(request.query_params.get("next")) or ""
    try:
        sess = sessions.load_session(request, db)
    except NeedsSignIn:
        return _login_page(request, 200, next_path=next_path)
    return RedirectResponse(next_path or home_of(sess.caller.roles), status_code=303)


@router.post("/login")
async def login_submit(request: Request, db: SessionDep) -> Response:
    form = await request.form()
    next_path = safe_next(_text(form.get("next"))) or ""
    if not sessions.same_secret(form.get("csrf"), request.cookies.get(sessions.LOGIN_COOKIE)):
        return _login_page(request, 403, "csrf", next_path)
    username, password = _text(form.get("username"))[:200], _text(form.get("password"))[:256]
    if not username.strip() or not password:
        return _login_page(request, 422, "missing", next_path, username=username)
    if "\x00" in username or "\x00" in password:
        return _login_page(request, 401, "wrong", next_path, username="")
    # The API's own sign-in: one password check, one throttle per account and address.
    credentials = SignInForm(username=username, password=password)
    try:
        issued = api_login(
            credentials, request, db, settings_of(request), request.app.state.hotline
        )
    except HTTPException as exc:
        if exc.status_code == 429:
            retry_after = int((exc.headers or {}).get("Retry-After", "60"))
            response = _login_page(
                request,
                429,
                "throttled",
                next_path,
                username=username,
                minutes=max(1, math.ceil(retry_after / 60)),
            )
            response.headers["Retry-After"] = str(retry_after)
            return response
        return _login_page(request, 401, "wrong", next_path, username=username)
    user = user_for_token(db, issued.access_token)
    if user is None or not user.role_set & CONSOLE_ROLES:
        # A service account (the bot, a partner) has no business in the staff console.
        revoke_token(db, issued.access_token)
        return _login_page(request, 403, "no_console_role", next_path, username=username)
    response = RedirectResponse(next_path or home_of(user.role_set), status_code=303)
    return sessions.start(request, response, issued.access_token)


@router.post("/logout")
async def logout(request: Request, db: SessionDep) -> Response:
    response = RedirectResponse(f"{PREFIX}/login?signed_out=1", status_code=303)
    try:
        sess = sessions.load_session(request, db)
    except NeedsSignIn:
        return sessions.end(response, request)
    form = await request.form()
    if not sessions.same_secret(form.get("csrf"), sess.csrf):
        return page(request, sess, "error.html", 403, reason="csrf")
    # Server-side: the cookie, if copied, no longer opens anything.
    revoke_token(db, sess.token)
    return sessions.end(response, request)


@router.post("/session")
def extend(request: Request, db: SessionDep) -> Response:
    """'Keep me signed in': the idle warning's button, sent by the page's script."""
    sess = sessions.load_session(request, db)
    if not sessions.same_secret(request.headers.get("x-csrf-token"), sess.csrf):
        return Response(status_code=403)
    return sessions.keep_alive(request, Response(status_code=204), sess)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
