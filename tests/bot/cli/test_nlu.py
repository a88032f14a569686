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
