from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import get_bot_settings

runner = CliRunner()


@pytest.fixture
def settings_env(fixture_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "nlu_data"
    shutil.copytree(fixture_data_dir, data)
    monkeypatch.setenv("HOTLINE_NLU_DATA_DIR", str(data))
    monkeypatch.setenv("HOTLINE_NLU_MODEL_PATH", str(tmp_path / "model.pkl"))
    monkeypatch.setenv("HOTLINE_NLU_BACKEND", "embedded")
    get_bot_settings.cache_clear()
    yield data
    get_bot_settings.cache_clear()


def test_train_writes_the_model(settings_env: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["nlu", "train"])
    assert result.exit_code == 0, result.output
    assert "examples" in result.output and "intents" in result.output
    assert (tmp_path / "model.pkl").is_file()


def test_parse_reads_lines_and_writes_json_lines(settings_env: Path) -> None:
    result = runner.invoke(
        app, ["nlu", "parse"], input="xin chào\ncứu em với, em bị nhốt ở Campuchia\n\n"
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["intent"]["name"] for p in lines] == ["greet", "request_rescue", "out_of_scope"]
    assert "Campuchia" in result.stdout  # ensure_ascii=False


def test_eval_on_a_file(settings_env: Path) -> None:
    result = runner.invoke(app, ["nlu", "eval", str(settings_env / "nlu.yml"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["intents"]["macro_f1"] > 0.9
    assert {"entities", "diacritic_free", "p1"} <= set(report)


def test_eval_text_report(settings_env: Path) -> None:
    result = runner.invoke(app, ["nlu", "eval", str(settings_env / "nlu.yml")])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "P1 triage" in result.output


def test_eval_cross_validation(settings_env: Path) -> None:
    result = runner.invoke(app, ["nlu", "eval", "--cross-validate", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["folds"] == 3
    assert report["examples"] > 50


def test_eval_missing_file(settings_env: Path) -> None:
    result = runner.invoke(app, ["nlu", "eval", "nope.yml"])
    assert result.exit_code != 0


# Expected outcomes chosen to be wrong, so a report that lists misreadings would show the texts.
_CASES = """\
cases:
  - text: "xin chào, tôi là Lan, đang học ở Huế"
    priority: P1
    category: request_rescue
    agencies: [dolisa, police]
    kind: rescue_request
  - text: "cứu em với, em bị nhốt ở Campuchia"
    priority: P3
    category: greet
    agencies: []
    kind: question
"""
_NLU = """\
version: "3.1"
nlu:
- intent: request_rescue
  examples: |
    - xin chào, tôi là Lan, đang học ở Huế
"""


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def test_eval_triage_file_reports_p1_and_accuracies(settings_env: Path, tmp_path: Path) -> None:
    cases = _write(tmp_path, "triage_cases.yml", _CASES)
    result = runner.invoke(app, ["nlu", "eval", str(cases), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cases"] == 2
    assert report["p1"]["positives"] == 1
    assert {"priority_accuracy", "category_accuracy", "agencies_accuracy"} <= set(report)
    # An ordinary file lists what was misread, with the text, so a developer can fix it.
    assert any("Lan" in m["text"] for m in report["wrong_priority"])


def test_blind_files_never_print_a_text(settings_env: Path, tmp_path: Path) -> None:
    cases = _write(tmp_path, "triage_blind.yml", _CASES)
    nlu = _write(tmp_path, "nlu_blind.yml", _NLU)
    for args in ([str(cases), str(nlu)], [str(cases), str(nlu), "--json"]):
        result = runner.invoke(app, ["nlu", "eval", *args])
        assert result.exit_code == 0, result.output
        assert "P1 recall" in result.output or '"p1"' in result.output
        for word in ("Lan", "Huế", "nhốt", "Campuchia"):
            assert word not in result.output, f"a blind text leaked: {word}"


def test_examples_cannot_be_asked_for_on_a_blind_file(settings_env: Path, tmp_path: Path) -> None:
    cases = _write(tmp_path, "triage_blind.yml", _CASES)
    result = runner.invoke(app, ["nlu", "eval", str(cases), "--show-examples"])
    assert result.exit_code != 0
    assert "Lan" not in result.output
    assert "blind" in result.output


def test_aggregate_only_on_an_ordinary_file(settings_env: Path, tmp_path: Path) -> None:
    cases = _write(tmp_path, "triage_cases.yml", _CASES)
    result = runner.invoke(app, ["nlu", "eval", str(cases), "--aggregate-only"])
    assert result.exit_code == 0, result.output
    assert "Lan" not in result.output and "P1 recall" in result.output
