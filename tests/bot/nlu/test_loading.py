from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from bot.config import BotSettings
from bot.nlu import artefact, load_nlu
from bot.nlu.engine import EmbeddedNLU


@pytest.fixture
def data_dir(fixture_data_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "nlu_data"
    shutil.copytree(fixture_data_dir, target)
    return target


def test_missing_model_is_trained_and_saved(
    data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "var" / "model.pkl"
    settings = BotSettings(nlu_data_dir=data_dir, nlu_model_path=model)
    with caplog.at_level(logging.WARNING):
        nlu = load_nlu(settings)
    assert isinstance(nlu, EmbeddedNLU)
    assert model.is_file()
    assert "retraining" in caplog.text
    assert nlu.parse("xin chào")["intent"]["name"] == "greet"


def test_current_model_is_reused_and_stale_model_retrained(data_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    settings = BotSettings(nlu_data_dir=data_dir, nlu_model_path=model)
    first = load_nlu(settings)
    assert artefact.staleness(first, data_dir) is None  # type: ignore[arg-type]
    again = load_nlu(settings)
    assert again.meta["data_fingerprint"] == first.meta["data_fingerprint"]  # type: ignore[attr-defined]
    with (data_dir / "nlu.yml").open("a", encoding="utf-8") as fh:
        fh.write("- intent: greet\n  examples: |\n    - chào buổi sáng\n")
    assert artefact.staleness(again, data_dir) is not None  # type: ignore[arg-type]
    fresh = load_nlu(settings)
    assert fresh.meta["examples"] == first.meta["examples"] + 1  # type: ignore[attr-defined]


def test_unreadable_model_is_rebuilt(data_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(b"not a pickle")
    nlu = load_nlu(BotSettings(nlu_data_dir=data_dir, nlu_model_path=model))
    assert nlu.parse("cảm ơn nhiều")["intent"]["name"] == "thank"


def test_rasa_backend_gets_the_embedded_fallback(data_dir: Path, tmp_path: Path) -> None:
    from bot.nlu.rasa_client import RasaNLU

    settings = BotSettings(
        nlu_backend="rasa",
        nlu_data_dir=data_dir,
        nlu_model_path=tmp_path / "model.pkl",
        rasa_url="http://127.0.0.1:9",
    )
    nlu = load_nlu(settings)
    assert isinstance(nlu, RasaNLU)
    assert isinstance(nlu.fallback, EmbeddedNLU)
    no_fallback = load_nlu(settings.model_copy(update={"rasa_fallback_to_embedded": False}))
    assert no_fallback.fallback is None  # type: ignore[attr-defined]
