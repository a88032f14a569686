"""The one answer every webhook gives the platform (docs/architecture.md, step 2): a message
stored (new or a retry) is acknowledged with 200, a flooding sender's too (it is answered after
its window: a 429 would stall the platform's whole queue, every other person's messages with
it); input the API would refuse gets 400 before anything is stored; a message that could not be
stored gets 503, so the platform delivers it again and nothing acknowledged is ever lost."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field

from bot.contract import InboundHandler, InboundMessage, problem_with

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    """Not acknowledged: answer with `status` (and `headers`) so the platform retries."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)


async def hand_over(handler: InboundHandler, message: InboundMessage) -> bool | Refusal:
    """Gives the message to the message service; True (new) or False (a retry of a stored
    message) once it is stored, else the refusal to answer with. A message the service could
    not take is refused here, before anything is stored or acknowledged."""
    problem = problem_with(message)
    if problem is not None:
        log.warning("%s inbound refused: %s", message.channel, problem)
        return Refusal(400, problem)
    try:
        return await handler(message)
    except Exception as exc:
        log_failure(message.channel, exc)
        return Refusal(503, "message not stored; try again later")


def log_failure(channel: str, exc: BaseException) -> None:
    # The stack without the exception's message: database errors quote the row they failed on,
    # and that row holds a person's words.
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s inbound not stored: %s\n%s", channel, type(exc).__name__, stack)
