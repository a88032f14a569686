"""The `hotline` command: the intake API's commands (`intake_api.cli`) composed with the bot's
(serve, bot, chat, outbox, nlu) and one `db upgrade` for both histories."""

from __future__ import annotations

from typing import Annotated

import typer

# The bot's tables join the shared metadata, so `keys rotate` re-encrypts them too.
import bot.models
from bot.cli.backup import register as register_backup_commands
from bot.cli.nlu import nlu_app
from bot.cli.outbox import outbox_app
from bot.migrate import upgrade
from intake_api.cli import (
    HostOption,
    PortOption,
    engine_from_settings,
    fail,
    keys_app,
    prepare,
    run_server,
    tickets_app,
    tokens_app,
    users_app,
)

app = typer.Typer(
    help="Vietnamese anti-trafficking hotline: intake API, bot and NLU.",
    no_args_is_help=True,
    # Rich tracebacks print local variables, which can hold personal data or keys.
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(keys_app, name="keys")
app.add_typer(tickets_app, name="tickets")
app.add_typer(outbox_app, name="outbox")
app.add_typer(nlu_app, name="nlu")
register_backup_commands(app)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the database schema: the API's tables, then the bot's (Alembic)."""
    upgrade(engine_from_settings(), revision)
    typer.echo("database is at the latest schema")


@app.command()
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """The API and the bot in one process (the embedded set-up of `make run`)."""
    from bot.config import get_bot_settings
    from bot.server import combined_app
    from intake_api.rules.agencies import UnknownAgency

    settings, engine = prepare(upgrade)
    try:
        asgi_app = combined_app(settings, get_bot_settings(), engine)
    except UnknownAgency as exc:
        fail(str(exc))
        return
    run_server(asgi_app, host or settings.host, port or settings.port)


@app.command()
def api(host: HostOption = None, port: PortOption = None) -> None:
    """The intake API alone (the bot runs elsewhere with `hotline bot`)."""
    from intake_api.app import create_app

    settings, engine = prepare(upgrade)
    run_server(create_app(settings, engine), host or settings.host, port or settings.port)


@app.command()
def bot(host: HostOption = None, port: Annotated[int, typer.Option()] = 8001) -> None:
    """The bot alone, delivering to the API over HTTP (HOTLINE_INTAKE_URL, HOTLINE_INTAKE_TOKEN)."""
    from bot.config import get_bot_settings
    from bot.server import bot_app
    from intake_api.crypto import get_cipher
    from intake_api.rules.agencies import UnknownAgency

    settings, engine = prepare(upgrade)
    bot_settings = get_bot_settings().model_copy(update={"intake_transport": "http"})
    try:
        asgi_app = bot_app(bot_settings, engine, get_cipher(), settings)
    except (RuntimeError, UnknownAgency) as exc:
        fail(str(exc))
        return
    run_server(asgi_app, host or settings.host, port)


@app.command()
def chat(
    name: Annotated[str, typer.Option(help="Who you are in this chat (one conversation each)")] = (
        "demo"
    ),
) -> None:
    """Talk to the bot in the terminal, for demos and staff training. Ctrl-D to leave."""
    from bot.server import run_chat

    settings, engine = prepare(upgrade)
    run_chat(settings, engine, name)
