"""bench/nlu_vs_rasa.py's report, without Rasa: the margin column, the blind mode's figures and
that a blind set's texts never reach the output (Rasa itself runs in `make test-rasa`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import nlu_vs_rasa

REPO = Path(__file__).resolve().parents[2]


def _parse(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> dict:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
        "entities": entities or [],
    }


def _run(parses: list[dict[str, Any]], case_parses: list[dict[str, Any]] | None = None) -> dict:
    return {
        "parses": parses,
        "case_parses": case_parses or [],
        "latencies_ms": [1.0] * len(parses),
        "train_seconds": 2.0,
        "train_peak_mb": 100.0,
        "serve_rss_mb": 50.0,
        "train_note": "",
    }


EXAMPLES = [
    {"text": "cứu em với", "intent": "request_rescue", "entities": []},
    {
        "text": "em ở Huế",
        "intent": "request_support",
        "entities": [{"entity": "province", "value": "Huế", "start": 6, "end": 9}],
    },
]
PROVINCE = {"entity": "province", "value": "Huế", "start": 6, "end": 9, "text": "Huế"}


def test_the_margin_is_embedded_minus_rasa() -> None:
    runs = {
        "embedded": _run(
            [
                _parse("cứu em với", "request_rescue"),
                _parse("em ở Huế", "request_support", [PROVINCE]),
            ]
        ),
        "rasa": _run([_parse("cứu em với", "request_rescue"), _parse("em ở Huế", "greet")]),
    }
    scores = {n: nlu_vs_rasa.score(n, EXAMPLES, r["parses"]) for n, r in runs.items()}
    rows = {r[0]: r for r in nlu_vs_rasa.comparison_rows(scores, runs, plain_count=0)}
    _label, embedded, rasa, margin = rows["intent accuracy (all)"]
    assert (embedded, rasa, margin) == ("1.000", "0.500", "+0.500")
    assert rows["province found"][1:] == ("1.000", "0.000", "+1.000")
    assert "triage P1 recall" not in rows, "no triage rows without triage cases"


def test_without_rasa_there_is_no_margin_column() -> None:
    runs = {"embedded": _run([_parse("cứu em với", "request_rescue")] * 2)}
    scores = {"embedded": nlu_vs_rasa.score("embedded", EXAMPLES, runs["embedded"]["parses"])}
    rows = nlu_vs_rasa.comparison_rows(scores, runs, plain_count=0)
    assert all(len(r) == 2 for r in rows)


def test_blind_mode_prints_figures_and_no_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if not (nlu_vs_rasa.BLIND.is_file() and nlu_vs_rasa.TRIAGE_BLIND.is_file()):
        pytest.skip("the blind sets are missing")
    seen: dict[str, int] = {}

    def fake(texts: list[str], *_args: Any) -> dict:
        # Every text answered as a rescue request: only the shape of the report is under test.
        seen["texts"] = len(texts)
        return _run([_parse(t, "request_rescue") for t in texts])

    monkeypatch.setattr(nlu_vs_rasa, "run_embedded", fake)
    monkeypatch.setattr(nlu_vs_rasa, "run_rasa", fake)
    out_json = tmp_path / "scores.json"
    assert nlu_vs_rasa.main(["--blind", "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    written = out_json.read_text(encoding="utf-8")
    # Checked first and as a count, so that no failure report can show a blind text.
    texts = [e["text"] for e in nlu_vs_rasa.load_holdout(nlu_vs_rasa.BLIND)]
    texts += [c.text for c in nlu_vs_rasa.load_triage_cases(nlu_vs_rasa.TRIAGE_BLIND)]
    leaked = sum(1 for t in texts if len(t) > 12 and (t in printed or t in written))
    assert leaked == 0, f"{leaked} blind texts reached the output"
    assert seen["texts"] == len(texts), "the NLU set and the triage cases are both parsed"
    assert "margin" in printed and "triage P1 recall" in printed and "relation F1" in printed
    summary = json.loads(written)
    assert set(summary) == {"embedded", "rasa"}
    assert "parses" not in summary["embedded"] and "case_parses" not in summary["embedded"]
