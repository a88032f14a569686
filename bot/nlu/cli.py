"""`hotline nlu ...` commands. Heavy imports stay inside the commands so the CLI starts fast."""

from __future__ import annotations

import typer

nlu_app = typer.Typer(help="Train, run and evaluate the Vietnamese NLU.", no_args_is_help=True)
