from __future__ import annotations

from pathlib import Path

from bot.nlu.training_data import data_fingerprint, load_training_data, parse_annotated


def test_parse_annotated_both_syntaxes() -> None:
    text, entities = parse_annotated(
        'em ở [Bến Tre]{"entity": "province", "value": "Vĩnh Long"} sang [tq](country)'
    )
    assert text == "em ở Bến Tre sang tq"
    assert [(e.entity, e.value, text[e.start : e.end]) for e in entities] == [
        ("province", "Vĩnh Long", "Bến Tre"),
        ("country", "tq", "tq"),
    ]


def test_loads_every_nlu_file_recursively(fixture_data_dir: Path) -> None:
    data = load_training_data(fixture_data_dir)
    assert "request_rescue" in data.intents
    assert "country" in data.lookups and "Campuchia" in data.synonyms
    assert data.ambiguous_forms["country"] == ["cam", "lao", "nhật"]
    # teencode.yml etc. have no `nlu:` key and are not training data
    assert all(p.name != "teencode.yml" for p in data.files)


def test_fingerprint_changes_with_the_data(fixture_data_dir: Path, tmp_path: Path) -> None:
    before = data_fingerprint(fixture_data_dir)
    assert before == data_fingerprint(fixture_data_dir)
    assert data_fingerprint(tmp_path) != before
