"""The intake API's commands: its accounts, tokens, keys and a look at tickets, and the pieces
of start-up the API needs. The `hotline` command (`bot.cli`) composes these with the bot's;
nothing here knows the bot."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy.engine import Engine

users_app = typer.Typer(help="Staff and service accounts.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="Long-lived bearer tokens for service accounts.", no_args_is_help=True
)
keys_app = typer.Typer(help="Encryption keys for personal data.", no_args_is_help=True)
tickets_app = typer.Typer(help="A quick look at tickets from the server.", no_args_is_help=True)


def engine_from_settings():  # type: ignore[no-untyped-def]
    from intake_api.config import get_settings
    from intake_api.crypto import configure_cipher
    from intake_api.db import make_engine
    from intake_api.keyfile import cipher_from_settings

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_cipher(cipher_from_settings(settings))
    return make_engine(settings.database_url)


# Who the audit trail names for what is done at the server's console.
CLI_ACTOR = "cli"


def fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(code=1)


def ensure_admin(engine) -> str | None:  # type: ignore[no-untyped-def]
    """Creates the `admin` account on first start; returns its one-time password."""
    from sqlmodel import Session, select

    from intake_api.config import get_settings
    from intake_api.models import User
    from intake_api.users import create_user

    with Session(engine) as session:
        if session.exec(select(User)).first() is not None:
            return None
        password = secrets.token_urlsafe(15)
        create_user(
            session,
            "admin",
            password,
            ["admin"],
            full_name="Administrator",
            agencies=get_settings().agency_codes,
            actor=CLI_ACTOR,
        )
        return password


def prepare(upgrade: Callable[[Engine], None]):  # type: ignore[no-untyped-def]
    """Settings, an engine migrated by `upgrade`, and the first admin account on a new
    database."""
    from intake_api.config import get_settings
    from intake_api.logging_setup import configure_logging

    configure_logging()
    settings = get_settings()
    engine = engine_from_settings()
    upgrade(engine)
    password = ensure_admin(engine)
    if password:
        typer.secho(
            f"\nCreated the first account: user 'admin', password '{password}'.\n"
            "It is shown only this once: write it down, sign in to the staff console at\n"
            f"http://{settings.host}:{settings.port}/console and create staff accounts under\n"
            "'Quản trị' (or with `hotline users create NAME --role operator`).\n",
            fg=typer.colors.YELLOW,
        )
    return settings, engine


# How long a thread may hold the GIL while another waits for it. The database work runs in
# worker threads: each statement releases the GIL for its round trip and then waits to take it
# back from the event loop, by default up to 5 ms, several times a turn. At 1 ms, under a
# steady 30 messages/s, webhook p99 fell from 360-650 ms to 100-200 ms and CPU per message by
# a tenth (bench/load.py --rate 30, README); below 0.5 ms the switching itself costs more.
GIL_SWITCH_INTERVAL_SECONDS = 0.001


def run_server(asgi_app, host: str, port: int) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
    typer.echo(
        f"serving on http://{host}:{port}  (staff console: /console, web chat: /chat, "
        "API docs: /docs)"
    )
    # Our own access log names routes, not URLs: paths and queries can carry personal data.
    uvicorn.run(asgi_app, host=host, port=port, access_log=False, log_config=None)


HostOption = Annotated[str | None, typer.Option(help="Interface to listen on")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on")]


@tickets_app.command("list")
def tickets_list(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """The newest tickets: code, priority, category, status (no personal data)."""
    from sqlmodel import Session, col, select

    from intake_api.migrate import upgrade
    from intake_api.models import Ticket

    engine = engine_from_settings()
    upgrade(engine)
    with Session(engine) as session:
        rows = session.exec(select(Ticket).order_by(col(Ticket.created_at).desc()).limit(limit))
        for t in rows:
            created = t.created_at.strftime("%Y-%m-%d %H:%M")
            typer.echo(
                f"{t.reference_code}  {t.priority}  {t.category:<20} {t.status:<12} {created}"
            )


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[
        list[str],
        typer.Option(
            help="operator, police, dolisa, supervisor, admin; service (the bot) or partner "
            "(an outside integration: files tickets and follows up on its own)"
        ),
    ],
    agency: Annotated[
        str | None, typer.Option(help="Agency code for police/dolisa staff (a configured one)")
    ] = None,
    full_name: Annotated[str | None, typer.Option()] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Leave out to be asked (or to get a random one with --random)"),
    ] = None,
    random_password: Annotated[bool, typer.Option("--random", help="Generate a password")] = False,
) -> None:
    """Create an account."""
    from sqlmodel import Session

    from intake_api.config import get_settings
    from intake_api.users import UserError, create_user

    if random_password:
        password = secrets.token_urlsafe(15)
    elif password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with Session(engine_from_settings()) as session:
        try:
            user = create_user(
                session,
                username,
                password,
                role,
                agency,
                full_name,
                agencies=get_settings().agency_codes,
                actor=CLI_ACTOR,
            )
        except UserError as exc:
            fail(f"cannot create the user: {exc}")
            return
    typer.echo(f"created user '{user.username}' with roles {user.roles}")
    if random_password:
        typer.echo(f"password: {password}")


@users_app.command("set-password")
def users_set_password(
    username: str,
    password: Annotated[str | None, typer.Option(help="Leave out to be asked")] = None,
) -> None:
    """Set a new password for an account."""
    from sqlmodel import Session

    from intake_api.users import UserError, set_password

    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with Session(engine_from_settings()) as session:
        try:
            set_password(session, username, password, actor=CLI_ACTOR)
        except UserError as exc:
            fail(f"cannot set the password: {exc}")
    typer.echo(f"password changed for '{username}'")


def _set_active(username: str, active: bool) -> None:
    from sqlmodel import Session

    from intake_api.users import UserError, set_active

    with Session(engine_from_settings(), expire_on_commit=False) as session:
        try:
            user = set_active(session, username, active, actor=CLI_ACTOR)
        except UserError as exc:
            fail(f"cannot change the account: {exc}")
            return
    state = "enabled" if user.active else "disabled: it cannot sign in and its tokens stop working"
    typer.echo(f"'{user.username}' is {state}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account (someone who left, a compromised service account)."""
    _set_active(username, False)


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Enable a disabled account again (its revoked tokens stay revoked)."""
    _set_active(username, True)


@tokens_app.command("issue")
def tokens_issue(
    username: str,
    days: Annotated[int, typer.Option(min=1, max=3650)] = 365,
    label: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Print a new bearer token for an account (e.g. the bot's `service` account)."""
    from sqlmodel import Session, select

    from intake_api.audit import record
    from intake_api.models import User
    from intake_api.tokens import issue_token

    with Session(engine_from_settings()) as session:
        user = session.exec(select(User).where(User.username == username.lower())).first()
        if user is None:
            fail(f"there is no user named '{username}'")
            return
        token = issue_token(session, user, timedelta(days=days), label=label or "cli")
        record(session, CLI_ACTOR, "token_issued", None, user.username)
        session.commit()
    typer.echo(token)


@tokens_app.command("list")
def tokens_list(username: str) -> None:
    """An account's tokens: id, label, issued, expires, revoked (never the tokens themselves)."""
    from sqlmodel import Session

    from intake_api.tokens import tokens_of
    from intake_api.users import UserError, find_user

    with Session(engine_from_settings()) as session:
        try:
            user = find_user(session, username)
        except UserError as exc:
            fail(str(exc))
            return
        for t in tokens_of(session, user):
            state = "revoked" if t.revoked else "valid"
            typer.echo(
                f"{t.id:>6}  {t.label or '':<12} issued {t.created_at:%Y-%m-%d}  "
                f"expires {t.expires_at:%Y-%m-%d}  {state}"
            )


@tokens_app.command("revoke")
def tokens_revoke(
    username: str,
    token_id: Annotated[
        list[int] | None,
        typer.Option("--id", help="Only these tokens (see `tokens list`); all of them without"),
    ] = None,
) -> None:
    """Revoke an account's tokens (a leaked service token): they stop working at once."""
    from sqlmodel import Session

    from intake_api.tokens import revoke_tokens
    from intake_api.users import UserError, find_user

    with Session(engine_from_settings(), expire_on_commit=False) as session:
        try:
            user = find_user(session, username)
        except UserError as exc:
            fail(str(exc))
            return
        count = revoke_tokens(session, user, CLI_ACTOR, token_id or None)
    typer.echo(f"revoked {count} token(s) of '{user.username}'")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key for HOTLINE_ENCRYPTION_KEYS."""
    from intake_api.crypto import generate_key

    typer.echo(generate_key())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt all personal data with the first key of HOTLINE_ENCRYPTION_KEYS."""
    from intake_api.key_rotation import rotate_all

    count = rotate_all(engine_from_settings())
    typer.echo(f"re-encrypted {count} values with the newest key")
