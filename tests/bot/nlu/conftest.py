"""Engines trained once per session: on the small fixtures, and on the real nlu_data/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.nlu.engine import EmbeddedNLU, train_engine

REPO = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "nlu_data"
# The engine's own side files (not training data) are shared with the real data folder.
SIDE_FILES = ("teencode.yml", "entity_rules.yml", "triage_keywords.yml")


@pytest.fixture(scope="session")
def fixture_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("nlu_data") / "nlu_data"
    shutil.copytree(FIXTURES, target)
    for name in SIDE_FILES:
        shutil.copy(REPO / "nlu_data" / name, target / name)
    return target


@pytest.fixture(scope="session")
def engine(fixture_data_dir: Path) -> EmbeddedNLU:
    return train_engine(fixture_data_dir)


@pytest.fixture(scope="session")
def real_engine() -> EmbeddedNLU:
    data_dir = REPO / "nlu_data"
    if not any(data_dir.rglob("*.yml")):
        pytest.skip("nlu_data/ has no training data yet")
    return train_engine(data_dir)
