"""Follow-up: a report's status by its reference code, then more detail goes to that ticket."""

from __future__ import annotations

from tests.bot.dialogue.fakes import ent


def test_known_code_gets_its_status_in_plain_words(bot):
    bot.intake.statuses["TIP-7K3Q9"] = "in_progress"
    text = "toi muon hoi tinh hinh tin bao ma TIP-7K3Q9"
    bot.nlu.add(text, "follow_up", 0.99, ent("reference_code", "TIP-7K3Q9", "TIP-7K3Q9"))
    turn = bot.send(text)
    assert bot.texts(turn) == [
        bot.says("follow_up.status.in_progress", code="TIP-7K3Q9"),
        bot.says("follow_up.can_add"),
    ]


def test_every_status_has_its_own_words(bot):
    for status in [
        "new",
        "acknowledged",
        "in_progress",
        "referred",
        "resolved",
        "unfounded",
        "duplicate",
    ]:
        bot.intake.statuses["TIP-7K3Q9"] = status
        bot.nlu.add("ma tip 7k3q9", "follow_up", 0.9)  # a code the NLU missed, typed oddly
        turn = bot.send("ma tip 7k3q9")
        assert bot.texts(turn)[0] == bot.says(f"follow_up.status.{status}", code="TIP-7K3Q9")


def test_unknown_code_is_said_kindly(bot):
    bot.nlu.add("ma TIP-ZZZZZ", "follow_up", 0.99, ent("reference_code", "TIP-ZZZZZ", "TIP-ZZZZZ"))
    turn = bot.send("ma TIP-ZZZZZ")
    assert bot.texts(turn) == [bot.says("follow_up.unknown_code", code="TIP-ZZZZZ")]


def test_api_down_apologises_and_gives_the_hotline(bot):
    bot.intake.down = True
    bot.nlu.add("ma TIP-7K3Q9", "follow_up", 0.99, ent("reference_code", "TIP-7K3Q9", "TIP-7K3Q9"))
    turn = bot.send("ma TIP-7K3Q9")
    assert bot.texts(turn) == [bot.says("follow_up.unavailable")]
    assert "111" in turn.replies[0].text
    assert bot.state["attached"] is None


def test_without_a_code_it_is_asked_for_once(bot):
    bot.intake.statuses["TIP-7K3Q9"] = "referred"
    bot.nlu.add("tin bao cua toi sao roi", "follow_up", 0.9)
    turn = bot.send("tin bao cua toi sao roi")
    assert bot.texts(turn) == [bot.says("follow_up.ask_code")]
    turn = bot.send("TIP 7k3q9")  # the NLU says nothing useful; the answer is still read
    assert bot.texts(turn)[0] == bot.says("follow_up.status.referred", code="TIP-7K3Q9")


def test_no_code_in_the_answer_ends_kindly(bot):
    bot.nlu.add("tin bao cua toi sao roi", "follow_up", 0.9)
    bot.send("tin bao cua toi sao roi")
    assert bot.texts(bot.send("quen mat roi")) == [bot.says("follow_up.no_code")]
    assert bot.state["flow"] == "idle"


def test_further_messages_go_to_that_ticket_until_something_new_starts(bot):
    bot.intake.statuses["TIP-7K3Q9"] = "acknowledged"
    bot.nlu.add("ma TIP-7K3Q9", "follow_up", 0.99, ent("reference_code", "TIP-7K3Q9", "TIP-7K3Q9"))
    bot.send("ma TIP-7K3Q9")
    turn = bot.send("ho da chuyen sang cho khac roi")
    assert bot.texts(turn) == [bot.says("ticket.appended", code="TIP-7K3Q9")]
    assert [u.text for u in bot.intake.updates_for("TIP-7K3Q9")] == [
        "ho da chuyen sang cho khac roi"
    ]
    bot.nlu.add("cty xkld hoang long co uy tin ko", "check_offer", 0.96)
    bot.send("cty xkld hoang long co uy tin ko")
    assert bot.state["attached"] is None
    assert len(bot.intake.updates) == 1


def test_follow_up_without_code_uses_the_conversations_own_ticket(bot):
    bot.nlu.add("bao tin", "report_trafficking", 0.9)
    bot.send("bao tin")
    while bot.state.get("step") != "ask_consent":
        bot.send("bo qua")
    bot.send("bo qua")
    code = bot.intake.submitted[0][0]
    bot.nlu.add("tin bao sao roi", "follow_up", 0.9)
    turn = bot.send("tin bao sao roi")
    assert bot.texts(turn)[0] == bot.says("follow_up.status.new", code=code)
