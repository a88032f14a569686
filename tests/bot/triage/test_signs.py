"""docs/nlu.md's P1 definition read from the text itself, one rule at a time, each with the
messages that must NOT trip it. Parses are built by hand so the NLU's mood cannot hide a rule:
every danger case is also tried as an unsure follow_up and out_of_scope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.triage import TriageRules, triage

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def rules() -> TriageRules:
    return TriageRules.from_dir(REPO / "nlu_data")


def parse(
    text: str, intent: str = "report_trafficking", conf: float = 0.9, ages: tuple[int, ...] = ()
) -> dict[str, Any]:
    entities = []
    for value in ages:
        surface = f"{value} tuổi"
        start = text.find(surface)
        entities.append(
            {
                "entity": "age",
                "value": str(value),
                "start": max(start, 0),
                "end": max(start, 0) + len(surface),
                "text": surface,
                "extractor": "test",
            }
        )
    return {
        "text": text,
        "intent": {"name": intent, "confidence": conf},
        "intent_ranking": [{"name": intent, "confidence": conf}],
        "entities": entities,
    }


def priority(rules: TriageRules, text: str, intent: str = "report_trafficking", **kw: Any) -> str:
    return str(triage(parse(text, intent, **kw), [], rules=rules)["priority"])


def reasons(rules: TriageRules, text: str, intent: str = "report_trafficking") -> list[str]:
    return list(triage(parse(text, intent), [], rules=rules)["reasons"])


def assert_p1_whatever_the_intent(rules: TriageRules, text: str, reason: str) -> None:
    for intent, conf in (
        ("report_trafficking", 0.9),
        ("follow_up", 0.2),
        ("out_of_scope", 0.3),
        ("greet", 0.2),
    ):
        t = triage(parse(text, intent, conf), [], rules=rules)
        assert t["priority"] == "P1", (intent, text, t["reasons"])
        assert reason in t["reasons"], (intent, text, t["reasons"])
        assert "police" in t["agencies"]


# --- movement now or at a stated near time ------------------------------------------------

MOVED = "someone is being sold or moved"


@pytest.mark.parametrize(
    "text",
    [
        "tối nay bọn nó chở mấy đứa con gái qua sông sang Trung Quốc",
        "sáng mai họ đưa người sang biên giới",
        "con bé hàng xóm đang bị đưa lên xe ở đầu ngõ",
        "toi thay co nguoi dang dan 3 dua nho len xe khach o ben xe",
        "tui nghe tụi nó nói tối ni chở mấy đứa qua bển",
        "Tôi vừa thấy một xe 7 chỗ chở bốn cô gái trẻ chạy về phía cửa khẩu",
        "Bà ấy hẹn đón mấy cô gái lúc 5 giờ sáng để đưa qua biên giới",
        "ngay lúc này có xe tải chở người đang chạy hướng Lạng Sơn",
    ],
)
def test_movement_now_or_soon_is_p1_even_told_by_a_witness(rules: TriageRules, text: str) -> None:
    assert_p1_whatever_the_intent(rules, text, MOVED)


@pytest.mark.parametrize(
    "text",
    [
        # Told of the past: a case to investigate within 24 hours, not to stop within the hour.
        "năm ngoái con gái nhà hàng xóm bị đưa sang Trung Quốc lấy chồng",
        "con gái hàng xóm bị đưa sang Trung Quốc lấy chồng",
        # A habit, seen many times: a concrete case.
        "tuần nào tôi cũng thấy bà Tư dẫn mấy cô gái qua biên giới",
        # "mấy hôm nay" is a stretch of time, not "hôm nay".
        "mấy hôm nay ở xóm tôi có người hay dẫn gái đi",
        # In a message typed with diacritics "đứa" is not "đưa", "đêm" is not "đem".
        "đứa con gái nhà bên đi học về muộn, đêm qua mưa to",
    ],
)
def test_movement_told_of_the_past_or_as_a_habit_is_not_p1(rules: TriageRules, text: str) -> None:
    assert priority(rules, text) != "P1", reasons(rules, text)


def test_in_a_rescue_request_the_writer_being_moved_counts_without_a_time(
    rules: TriageRules,
) -> None:
    assert MOVED in reasons(rules, "họ chở em đi, em không biết đi đâu", "request_rescue")


# --- a child under 16 at risk ---------------------------------------------------------------

CHILD = "child under 16 at risk"


@pytest.mark.parametrize(
    ("text", "ages"),
    [
        ("con gái em 14 tuổi được một người trên mạng rủ đi làm ở Sài Gòn", (14,)),
        ("con em mới học lớp 8 có người hứa cho đi làm ở Hàn, có nên cho đi không", ()),
        ("cháu tôi mới 13 có người rủ lên thành phố làm quán cà phê", ()),
        ("em tôi chưa đủ 16 tuổi, có ông bảo cho đi xuất khẩu lao động", (16,)),
        ("đứa em học lớp tám được bạn trai quen qua mạng hẹn đón đi chơi xa", ()),
    ],
)
def test_a_child_lured_is_p1_also_when_asking_about_the_offer(
    rules: TriageRules, text: str, ages: tuple[int, ...]
) -> None:
    for intent, conf in (("check_offer", 0.8), ("follow_up", 0.2), ("out_of_scope", 0.3)):
        t = triage(parse(text, intent, conf, ages=ages), [], rules=rules)
        assert t["priority"] == "P1", (intent, text, t["reasons"])
        assert CHILD in t["reasons"]


@pytest.mark.parametrize(
    ("text", "intent", "ages"),
    [
        # Grades from 10 up are 15-18: not under 16 by the grade alone.
        ("con em học lớp 11 có người rủ đi làm ở Hàn, có nên đi không", "check_offer", ()),
        # A general question names no child in particular.
        ("trẻ em dưới 16 tuổi đi làm có bị phạt không", "ask_info", (16,)),
        ("công ty có tuyển người chưa đủ 16 tuổi không", "check_offer", (16,)),
        ("Làm thế nào để nhận biết tài khoản chuyên dụ dỗ trẻ em?", "ask_info", ()),
        # Home again: a support case.
        ("con tôi 14 tuổi đã được giải cứu về, giờ cần hỗ trợ học nghề", "request_support", (14,)),
        # 17 is not under 16.
        ("em gái tôi 17 tuổi có người rủ đi làm ở Sài Gòn", "check_offer", (17,)),
    ],
)
def test_not_a_child_at_risk(
    rules: TriageRules, text: str, intent: str, ages: tuple[int, ...]
) -> None:
    t = triage(parse(text, intent, ages=ages), [], rules=rules)
    assert CHILD not in t["reasons"], (text, t["reasons"])


def test_a_child_reported_missing_is_p1(rules: TriageRules) -> None:
    t = triage(
        parse(
            "bé gái nhà bên cạnh 14 tuổi đi học không về từ chiều qua", "report_missing", ages=(14,)
        ),
        [],
        rules=rules,
    )
    assert t["priority"] == "P1" and CHILD in t["reasons"]


# --- confinement ----------------------------------------------------------------------------

HELD = "someone is held or confined"


@pytest.mark.parametrize(
    "text",
    [
        "con tôi bị nhốt ở Campuchia",
        "k cho e về vn, họ khóa cửa",
        "chủ nhà không cho em ra ngoài",
        "họ ép con uống rượu tiếp khách",
        "em được giải cứu về nhưng bạn em vẫn bị nhốt",
        "con tôi bị giữ bên đó từ năm ngoái đến giờ",
    ],
)
def test_confinement_is_p1(rules: TriageRules, text: str) -> None:
    assert_p1_whatever_the_intent(rules, text, HELD)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("em không bị nhốt, chỉ là không liên lạc được", "report_missing"),
        ("con tôi đã được về nhà an toàn", "request_support"),
        ("hồi trước em bị nhốt ở Campuchia, giờ về rồi, cần hỗ trợ học nghề", "request_support"),
        ("sau khi bị giữ ở Myanmar gần một năm, tôi muốn học nghề", "request_support"),
        ("nếu bị giữ hộ chiếu thì phải làm sao", "ask_info"),
        ("bị nhốt thì luật xử thế nào", "out_of_scope"),
        ("đi làm bên đó có bị giữ hộ chiếu không?", "check_offer"),
        ("hôm nay trời có mưa không", "out_of_scope"),
    ],
)
def test_denied_past_or_supposed_confinement_is_not_p1(
    rules: TriageRules, text: str, intent: str
) -> None:
    assert priority(rules, text, intent) != "P1", reasons(rules, text, intent)


def test_a_question_about_someone_in_particular_keeps_its_danger(rules: TriageRules) -> None:
    t = triage(parse("con tôi đang bị giữ hộ chiếu thì phải làm sao", "ask_info"), [], rules=rules)
    assert t["priority"] == "P1"


# --- violence -------------------------------------------------------------------------------

BEATEN = "violence reported"


@pytest.mark.parametrize(
    "text",
    ["nó bị đánh đập hằng ngày", "chủ quán đánh con bé bầm dập", "tụi nó chích điện anh ấy"],
)
def test_violence_is_p1(rules: TriageRules, text: str) -> None:
    assert_p1_whatever_the_intent(rules, text, BEATEN)


@pytest.mark.parametrize(
    "text",
    [
        "không ai đánh em cả, chỉ là không trả lương",
        "chồng tôi đi tàu đánh cá ở Indonesia",
        "em phải tắt máy rồi, bye",
    ],
)
def test_not_violence(rules: TriageRules, text: str) -> None:
    assert BEATEN not in reasons(rules, text)


# --- the writer's urgency -------------------------------------------------------------------

URGENT = "writer says it is urgent"


@pytest.mark.parametrize(
    "text",
    [
        "cứu em với",
        "KHẨN CẤP",
        "CAN HO TRO GAP CHO O VA DO AN",
        "em mới trốn về, không có chỗ ở, xin giúp gấp",
        "làm sao cứu con tôi ra",
        "🆘",
    ],
)
def test_the_writers_urgency_is_p1(rules: TriageRules, text: str) -> None:
    assert_p1_whatever_the_intent(rules, text, URGENT)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("số khẩn cấp là số nào", "ask_hotline"),
        ("tra cứu giúp giấy phép công ty này", "check_offer"),
        ("tạm biệt, hẹn gặp lại", "goodbye"),
        ("công ty tuyển lương gấp đôi ở nhà", "check_offer"),
        ("nếu gặp nguy hiểm thì gọi ai", "ask_info"),
    ],
)
def test_not_the_writers_urgency(rules: TriageRules, text: str, intent: str) -> None:
    assert URGENT not in reasons(rules, text, intent)


# --- the rest of the triage -----------------------------------------------------------------


def test_an_unsure_parse_never_lowers_a_danger_sign(rules: TriageRules) -> None:
    text = "đang bị nhốt trên tầng 4, có bảo vệ canh cửa"
    confident = triage(parse(text, "report_trafficking", 0.95), [], rules=rules)
    for intent in ("follow_up", "out_of_scope", "affirm", "thank"):
        unsure = triage(parse(text, intent, 0.1), [], rules=rules)
        assert unsure["priority"] == confident["priority"] == "P1"
        assert HELD in unsure["reasons"]


def test_a_support_request_told_of_a_past_danger_goes_to_dolisa_only(rules: TriageRules) -> None:
    t = triage(
        parse("em từng bị đánh bên Campuchia, giờ đã về, cần khám bệnh", "request_support"),
        [],
        rules=rules,
    )
    assert (t["priority"], t["agencies"]) == ("P3", ["dolisa"])
