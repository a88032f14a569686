"""Relation `self`: the writer speaking of themself as the person in danger or in need.

docs/nlu.md: in a rescue or support request (`self_intents`), each first-person word with which
the writer speaks of themself is relation `self` ("cứu [em] với, [em] bị nhốt"). Not when the
message names someone else as the person concerned ("con gái tôi bị giữ, tôi phải làm sao": the
writer speaks for their daughter), not a possessor ("bạn em": `friend` on "bạn"), not a form of
address ("chị ơi") nor a third person ("chị ấy"). "anh", "chị", "con", "cháu" are the writer
only before a verb or as the object of a plea ("chị bị lừa", "cứu con với"). This needs the
intent, so it runs after the classifier. Word lists: `nlu_data/entity_rules.yml`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.nlu.entities.alignment import entity_dict
from bot.nlu.entities.rules_file import EntityRules
from bot.nlu.normalize import NormalizedText, Token, has_diacritics


@dataclass(frozen=True)
class WriterSelf:
    rules: EntityRules

    def extract(
        self, nt: NormalizedText, intent: str, found: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """`self` entities for a message of `intent`, not overlapping the entities `found`."""
        r = self.rules
        if intent not in r.self_intents:
            return []
        if any(e["entity"] == "relation" and e["value"] != "self" for e in found):
            return []  # the message is about someone else
        tokens = nt.tokens
        accented = has_diacritics(nt.original)
        out: list[dict[str, Any]] = []
        for i, token in enumerate(tokens):
            if i > 0 and tokens[i - 1].start == token.start:
                continue  # a later word of one typed shorthand
            if not self._is_writer(tokens, i, accented, nt.original):
                continue
            if any(e["start"] < token.end and token.start < e["end"] for e in found):
                continue
            out.append(
                entity_dict("relation", "self", token.start, token.end, nt.original, "rules")
            )
        return out

    def _is_writer(self, tokens: Sequence[Token], i: int, accented: bool, text: str) -> bool:
        r = self.rules
        word = _spelled(tokens[i], accented)
        strong = word in (r.writer_words_accented if accented else r.writer_words)
        weak = word in (r.writer_words_verb_accented if accented else r.writer_words_verb)
        if not (strong or weak):
            return False
        if not accented and word in r.writer_plain_ambiguous and tokens[i].typed == word:
            return False  # "giay to" is giấy tờ, "chi thay" chỉ thấy; "c" is chị
        # Words across punctuation are not one phrase: in "cứu em, em ở Huế" the second "em" has
        # no possessor before it.
        joined_before = i > 0 and not text[tokens[i - 1].end : tokens[i].start].strip()
        joined_after = i + 1 < len(tokens) and not text[tokens[i].end : tokens[i + 1].start].strip()
        prev = _spelled(tokens[i - 1], accented) if joined_before else ""
        nxt = _spelled(tokens[i + 1], accented) if joined_after else ""
        not_after = r.writer_not_after_accented if accented else r.writer_not_after
        not_before = r.writer_not_before_accented if accented else r.writer_not_before
        if prev in not_after or nxt in not_before:
            return False
        if (
            prev
            and tokens[i - 1].plain == "nha"
            and i > 1
            and (_spelled(tokens[i - 2], accented) in not_after)
        ):
            return False  # "bé nhà tôi", "con nhà em": someone of the writer's family
        if strong:
            return True
        # "chị bị lừa", "con muốn về"; "cứu con với", "giúp chị"
        nxt = tokens[i + 1].plain if joined_after else ""
        prev = tokens[i - 1].plain if joined_before else ""
        return nxt in r.writer_verbs or (
            prev in r.writer_plea_verbs and (nxt == "" or nxt in r.writer_plea_ends)
        )


def _spelled(token: Token, accented: bool) -> str:
    # In a message typed with diacritics the word is what was typed ("tụi" is not "tui"); the
    # shorthand "e", "t", "mk" is compared expanded ("em", "tôi", "mình").
    return token.text if accented else token.plain
