"""The Rasa backend: parse a message by calling a Rasa server's `POST /model/parse`.

Rasa 3.x needs Python <= 3.10 and TensorFlow, so it never runs inside this process: it is a
separate server (`rasa run --enable-api`; bench/rasa_server.py builds, trains and starts one),
and this module is its HTTP client. The answer is turned into the parse shape of
docs/nlu.md, which is Rasa's own shape with a few guarantees added (see
`normalise_rasa_parse`).

When Rasa is down or answers garbage, a message must still be understood: with a fallback
backend (the embedded engine, `HOTLINE_RASA_FALLBACK_TO_EMBEDDED`) the message is parsed by it
and a warning is logged; without one, `RasaUnavailable` is raised. Message text is personal data
(victims' names, places, phone numbers), so it never appears in a log line or an exception.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from typing import Any

import httpx

from bot.nlu.backend import NLUBackend
from bot.nlu.phone import find_phones

log = logging.getLogger(__name__)

OUT_OF_SCOPE = "out_of_scope"
# FallbackClassifier's intent when the top confidence is under its threshold
# [rasa/nlu/classifiers/fallback_classifier.py, DEFAULT_NLU_FALLBACK_INTENT_NAME].
RASA_NLU_FALLBACK = "nlu_fallback"
# The intents of docs/nlu.md. An intent outside this set (a model trained on other data)
# would reach triage as a name it does not know, so it is reported as out_of_scope.
KNOWN_INTENTS = frozenset(
    {
        "request_rescue",
        "report_trafficking",
        "report_missing",
        "request_support",
        "check_offer",
        "ask_info",
        "ask_hotline",
        "follow_up",
        "greet",
        "goodbye",
        "thank",
        "affirm",
        "deny",
        OUT_OF_SCOPE,
    }
)
# What the service issues: TIP- and five characters without 0/O/1/I, typed in any case with a
# dash, space or nothing after TIP (as bot/nlu/entities/codes.py reads them).
_REFERENCE_CODE_RE = re.compile(r"tip[\s\-_.:#]?([2-9a-hj-np-z]{5})", re.IGNORECASE)
_FIRST_NUMBER_RE = re.compile(r"\d+")
# Entity keys passed through from Rasa besides the ones this module sets itself.
_OPTIONAL_ENTITY_KEYS = (
    "confidence_entity",
    "role",
    "confidence_role",
    "group",
    "confidence_group",
    "processors",
)


class RasaUnavailable(RuntimeError):
    """Rasa could not give a usable parse (unreachable, timed out, error status, garbage)."""


class RasaNLU:
    """NLU backend that asks a Rasa server; optionally falls back to another backend.

    `retries` is the number of extra attempts after the first one, made only for failures that
    may be transient: connection errors, timeouts and 5xx answers, with a short exponential
    back-off in between. After a failure that ended in the fallback, Rasa is skipped for
    `down_for_seconds` so that while it is down every message does not wait for the full
    (retries + 1) x timeout before being parsed by the fallback.
    """

    name = "rasa"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = 3.0,
        retries: int = 2,
        fallback: NLUBackend | None = None,
        *,
        backoff_seconds: float = 0.1,
        down_for_seconds: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries = max(0, int(retries))
        self.fallback = fallback
        self.backoff_seconds = backoff_seconds
        self.down_for_seconds = down_for_seconds
        # The token goes in the query string, which is how `rasa run --auth-token` wants it
        # [rasa/server.py, requires_auth]. It is kept out of self.url so that the URL can be
        # named in errors and logs without leaking it.
        self._params = {"token": token} if token else {}
        self._client = httpx.Client(
            base_url=self.url, timeout=httpx.Timeout(timeout), transport=transport
        )
        self._skip_until = 0.0
        self._lock = threading.Lock()

    def parse(self, text: str) -> dict[str, Any]:
        if self.fallback is not None and time.monotonic() < self._skip_until:
            return self.fallback.parse(text)
        try:
            return self._parse_with_rasa(text)
        except RasaUnavailable as exc:
            if self.fallback is None:
                raise
            with self._lock:
                self._skip_until = time.monotonic() + self.down_for_seconds
            # The reason names the URL and the failure, never the message.
            log.warning(
                "Rasa NLU unavailable, parsing with the fallback backend for the next %.0f s: %s",
                self.down_for_seconds,
                exc,
            )
            return self.fallback.parse(text)

    def status(self) -> dict[str, Any]:
        """Rasa's `GET /status` (the loaded model), for health checks; raises RasaUnavailable."""
        response = self._send("GET", "/status")
        try:
            body = response.json()
        except ValueError as exc:
            raise RasaUnavailable(f"Rasa at {self.url} answered /status with non-JSON") from exc
        if not isinstance(body, dict):
            raise RasaUnavailable(f"Rasa at {self.url} answered /status with non-object JSON")
        return body

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RasaNLU:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _parse_with_rasa(self, text: str) -> dict[str, Any]:
        outgoing = OutgoingText(text)
        if not outgoing.parsed:
            # Rasa still predicts an intent for an empty message (whatever is nearest to the
            # empty vector), which would be noise; nothing said means nothing understood.
            return _nothing_understood(text)
        response = self._send("POST", "/model/parse", json={"text": outgoing.sent})
        try:
            body = response.json()
        except ValueError as exc:
            raise RasaUnavailable(
                f"Rasa at {self.url} answered /model/parse with non-JSON"
            ) from exc
        return normalise_rasa_parse(body, text, spans=outgoing.original_span, source=self.url)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        last_problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                response = self._client.request(method, path, params=self._params, **kwargs)
            except httpx.TimeoutException as exc:
                last_problem = f"timed out ({type(exc).__name__})"
                continue
            except httpx.TransportError as exc:
                last_problem = f"unreachable ({type(exc).__name__})"
                continue
            if response.status_code >= 500:
                last_problem = f"answered HTTP {response.status_code}"
                continue
            if response.status_code in (401, 403):
                raise RasaUnavailable(
                    f"Rasa at {self.url} refused the request (HTTP {response.status_code}): "
                    "check HOTLINE_RASA_TOKEN against the server's --auth-token"
                )
            if response.status_code != 200:
                # 4xx other than auth: a client-side problem that a retry would not change
                # (e.g. 404 when the server runs without --enable-api).
                raise RasaUnavailable(
                    f"Rasa at {self.url} answered {method} {path} with HTTP "
                    f"{response.status_code} (is it started with --enable-api?)"
                )
            return response
        raise RasaUnavailable(
            f"Rasa at {self.url} {last_problem} after {self.retries + 1} attempt(s) "
            f"of {method} {path}"
        )


class OutgoingText:
    """The text sent to Rasa for one message, and the way back from Rasa's offsets.

    Three things make Rasa's offsets differ from offsets into the message as received:

    - Rasa strips the message, so its offsets count from the first non-blank character
      [rasa/core/channels/channel.py, UserMessage.__init__].
    - A stripped message starting with "/" is read as a literal intent ("/greet" comes back
      as greet, confidence 1.0) [rasa/shared/core/training_data/story_reader/
      yaml_story_reader.py, unpack_regex_message]. A person typing "/" means nothing of the
      kind, so leading slashes are sent as spaces (the tokenizer drops them anyway).
    - Phones and some keyboards send decomposed (NFD) Vietnamese, which Rasa's lookup tables
      and character n-grams, built from NFC training data, would not recognise. The message is
      sent in NFC, composed one character cluster at a time so that every offset in the NFC
      text maps back to a cluster of the original.
    """

    def __init__(self, text: str) -> None:
        chars = list(text)
        index = 0
        while True:
            while index < len(chars) and chars[index].isspace():
                index += 1
            if index < len(chars) and chars[index] == "/":
                chars[index] = " "
                continue
            break
        # Clusters: a character that does not combine with what precedes it, plus the
        # combining marks after it.
        clusters: list[tuple[int, int]] = []
        for position, char in enumerate(chars):
            if clusters and unicodedata.combining(char):
                clusters[-1] = (clusters[-1][0], position + 1)
            else:
                clusters.append((position, position + 1))
        pieces = [unicodedata.normalize("NFC", "".join(chars[a:b])) for a, b in clusters]
        sent = "".join(pieces)
        # Composition across clusters (Hangul jamo, rare scripts) would break the mapping:
        # then the text goes as it came, which keeps offsets exact.
        if sent != unicodedata.normalize("NFC", "".join(chars)):
            sent, pieces, clusters = (
                "".join(chars),
                list(chars),
                [(i, i + 1) for i in range(len(chars))],
            )
        self.sent = sent
        self.parsed = sent.strip()
        self._lead = len(sent) - len(sent.lstrip())
        # For every character of `sent`: the original span of its cluster.
        self._origin: list[tuple[int, int]] = []
        for piece, cluster in zip(pieces, clusters, strict=True):
            self._origin.extend([cluster] * len(piece))

    def original_span(self, start: int, end: int) -> tuple[int, int] | None:
        """Rasa's [start, end) as offsets into the message as received, None if out of range."""
        start, end = start + self._lead, end + self._lead
        if not 0 <= start < end <= len(self._origin):
            return None
        return self._origin[start][0], self._origin[end - 1][1]


def _nothing_understood(text: str) -> dict[str, Any]:
    intent = {"name": OUT_OF_SCOPE, "confidence": 0.0}
    return {"text": text, "intent": intent, "intent_ranking": [dict(intent)], "entities": []}


def normalise_rasa_parse(
    body: object,
    text: str,
    *,
    spans: Callable[[int, int], tuple[int, int] | None] | None = None,
    source: str = "Rasa",
) -> dict[str, Any]:
    """Turn Rasa's `/model/parse` answer for `text` into the shape of docs/nlu.md.

    - `text` is the text exactly as the caller gave it (Rasa echoes what it parsed); `spans`
      maps Rasa's offsets to offsets into it (see OutgoingText), default: the identity.
    - No intent (`name: null`, which Rasa sends when nothing is predicted), confidence 0,
      FallbackClassifier's `nlu_fallback` and intents unknown to the spec become `out_of_scope`.
    - `intent_ranking` is kept, with the same renaming, one entry per name, best first.
    - Entities keep start/end/value/extractor (and Rasa's confidence, role, group, processors);
      their `text` is the slice of the original input; entities whose offsets do not fit the
      input are dropped rather than passed on with wrong positions, and of entities with the
      same label on overlapping spans (DIET and RegexEntityExtractor) only the longest is kept.

    Raises RasaUnavailable when the answer is not a Rasa parse at all.
    """
    if not isinstance(body, dict) or not isinstance(body.get("intent"), dict):
        raise RasaUnavailable(f"{source} answered /model/parse without an intent object")
    intent = _intent_entry(body["intent"])
    if intent is None:
        raise RasaUnavailable(f"{source} answered /model/parse with a malformed intent")

    ranking: list[dict[str, Any]] = []
    seen: set[str] = set()
    raw_ranking = body.get("intent_ranking")
    candidates = [intent] + [
        entry
        for entry in (_intent_entry(item) for item in (raw_ranking or []))
        if entry is not None
    ]
    if raw_ranking is not None and not isinstance(raw_ranking, list):
        raise RasaUnavailable(f"{source} answered /model/parse with a malformed intent_ranking")
    # The top intent leads the ranking even when the renaming moved it (nlu_fallback sits at
    # the top of Rasa's ranking with the threshold as its confidence).
    for entry in [candidates[0], *sorted(candidates[1:], key=lambda e: -e["confidence"])]:
        if entry["name"] not in seen:
            seen.add(entry["name"])
            ranking.append(entry)

    raw_entities = body.get("entities") or []
    if not isinstance(raw_entities, list):
        raise RasaUnavailable(f"{source} answered /model/parse with malformed entities")
    found = [e for e in (_entity_entry(item, text, spans) for item in raw_entities) if e]
    # Same label on overlapping spans: DIET and RegexEntityExtractor often both find a phone
    # number, DIET sometimes only part of it ("0912 345" of "0912 345 678"). The longest span
    # is kept (the first one on a tie, in Rasa's order).
    entities: list[dict[str, Any]] = []
    for entity in sorted(found, key=lambda e: e["start"] - e["end"]):
        if not any(
            kept["entity"] == entity["entity"]
            and kept["start"] < entity["end"]
            and entity["start"] < kept["end"]
            for kept in entities
        ):
            entities.append(entity)
    entities.sort(key=lambda e: (e["start"], e["end"]))
    return {"text": text, "intent": intent, "intent_ranking": ranking, "entities": entities}


def _intent_entry(raw: object) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    name = raw.get("name")
    confidence = raw.get("confidence", 0.0)
    if name is not None and not isinstance(name, str):
        return None
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        return None
    confidence = float(confidence)
    if not math.isfinite(confidence):
        return None
    if not name or confidence <= 0.0 or name == RASA_NLU_FALLBACK or name not in KNOWN_INTENTS:
        name = OUT_OF_SCOPE
    return {"name": name, "confidence": confidence}


def _entity_entry(
    raw: object, text: str, spans: Callable[[int, int], tuple[int, int] | None] | None
) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    start, end, label = raw.get("start"), raw.get("end"), raw.get("entity")
    if not isinstance(label, str) or not isinstance(start, int) or not isinstance(end, int):
        return None
    span = spans(start, end) if spans is not None else (start, end)
    if span is None or not 0 <= span[0] < span[1] <= len(text):
        return None
    start, end = span
    surface = text[start:end]
    value = canonical_value(label, raw.get("value", surface), surface)
    if value is None:
        return None
    entity: dict[str, Any] = {
        "entity": label,
        "value": value,
        "start": start,
        "end": end,
        "text": surface,
        "extractor": raw.get("extractor") or "rasa",
    }
    for key in _OPTIONAL_ENTITY_KEYS:
        if key in raw:
            entity[key] = raw[key]
    return entity


def canonical_value(label: str, value: Any, surface: str) -> Any:
    """The value in the form docs/nlu.md fixes, which Rasa cannot produce by itself.

    Rasa's extractors give the matched text (or a synonym's value): `0912 345 678` rather than
    `+84912345678`, `tip-7k3q9` rather than `TIP-7K3Q9`, `16 tuổi` rather than `16`. Triage and
    the intake API compare these values, so both backends must give the same form. None means
    the span is not what the label says (DIET marking a lone "3" as a phone): it is dropped.
    """
    if label == "phone":
        phones = find_phones(surface)
        return phones[0].e164 if len(phones) == 1 else None
    if label == "reference_code":
        code = _REFERENCE_CODE_RE.fullmatch(surface.strip())
        return f"TIP-{code.group(1).upper()}" if code else None
    if label in ("age", "person_count") and isinstance(value, str):
        number = _FIRST_NUMBER_RE.search(value)
        return number.group() if number else value
    return value
