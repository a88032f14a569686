"""The `hotline` command: serve, database, users, tokens, and the bot's `nlu` commands."""

from __future__ import annotations

import typer

from bot.nlu.cli import nlu_app

app = typer.Typer(help="Vietnamese anti-trafficking hotline: intake API, bot and NLU.", no_args_is_help=True)
app.add_typer(nlu_app, name="nlu")
