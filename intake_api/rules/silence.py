"""How a ticket says it was filed after its reporter went silent mid-report: a triage reason
(staff read reasons on the ticket), written by the bot and read by the console's flags."""

FILED_AFTER_SILENCE = "filed after the reporter went silent"


def filed_after_silence(reasons: list[str] | None) -> bool:
    return FILED_AFTER_SILENCE in (reasons or [])
