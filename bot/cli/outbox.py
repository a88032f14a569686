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
    """What waits or was refused: tickets and messages for the API, then replies to people that
    wait for a try or failed (id, kind, state, attempts, last error; never the text)."""
    from bot.intake.outbox import stuck_items
    from bot.messaging.conversations import unsent_replies

    engine = engine_from_settings()
    upgrade(engine)
    items = stuck_items(engine)
    for item in items:
        typer.echo(
            f"{item.id:>6}  {item.kind:<6} {item.reference_code}  {item.state:<8} "
            f"attempts={item.attempts}  {item.last_error or ''}"
        )
    typer.echo(f"{len(items)} not delivered")
    replies = unsent_replies(engine)
    for reply in replies:
        kind = "staff" if reply.staff_reply_id is not None else "reply"
        typer.echo(
            f"{reply.id:>6}  {kind:<6} {reply.channel:<9} {reply.state:<8} "
            f"attempts={reply.attempts}  {reply.last_error or ''}"
        )
    typer.echo(f"{len(replies)} replies to people not sent yet")


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
