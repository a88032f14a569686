"""`hotline outbox`: what the bot has not yet delivered to the API, and putting refused items
back in line."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.migrate import upgrade
from intake_api.cli import engine_from_settings

outbox_app = typer.Typer(
    help="Tickets and messages the bot has not yet delivered to the API.", no_args_is_help=True
)


@outbox_app.command("list")
def outbox_list() -> None:
    """What waits or was refused: id, kind, code, state, attempts, last error (no message text)."""
    from bot.intake.outbox import stuck_items

    engine = engine_from_settings()
    upgrade(engine)
    items = stuck_items(engine)
    for item in items:
        typer.echo(
            f"{item.id:>6}  {item.kind:<6} {item.reference_code}  {item.state:<8} "
            f"attempts={item.attempts}  {item.last_error or ''}"
        )
    typer.echo(f"{len(items)} not delivered")


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Item ids; none: every refused item")
    ] = None,
) -> None:
    """Put refused items back in line once the cause is fixed; the bot delivers them next round."""
    from bot.intake.outbox import requeue

    count = requeue(engine_from_settings(), ids or None)
    typer.echo(f"{count} item(s) queued again")
