"""Reading Rasa 3.x NLU training data (and this engine's own side files) from `nlu_data/`.

Every YAML file under the data folder whose top level has an `nlu:` key is training data, wherever
it sits and whatever it is called, so data can be split into parts or merged into one `nlu.yml`
without touching code.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Side files the engine reads besides the training data; all are looked up by file name.
TEENCODE_FILE = "teencode.yml"
AMBIGUOUS_FORMS_FILE = "ambiguous_forms.yml"
ENTITY_RULES_FILE = "entity_rules.yml"
_SIDE_FILES = frozenset({TEENCODE_FILE, AMBIGUOUS_FORMS_FILE, ENTITY_RULES_FILE})
_NLU_KEY_RE = re.compile(rb"^nlu\s*:", re.MULTILINE)
# `[text](entity)`, `[text](entity:value)` and `[text]{"entity": ..., "value": ...}`.
_ANNOTATION_RE = re.compile(
    r"\[(?P<text>[^\]\n]+?)\](?:\((?P<short>[^)\n]+)\)|(?P<json>\{[^}\n]+\}))"
)


@dataclass(frozen=True, slots=True)
class EntitySpan:
    entity: str
    value: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    # canonical value -> surface forms that mean it (Rasa `synonym:` items)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    # entity -> short forms that are also ordinary words and need a context word before them
    ambiguous_forms: dict[str, list[str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def merge(self, other: TrainingData) -> None:
        self.examples.extend(other.examples)
        for target, source in (
            (self.synonyms, other.synonyms),
            (self.regexes, other.regexes),
            (self.lookups, other.lookups),
            (self.ambiguous_forms, other.ambiguous_forms),
        ):
            for key, values in source.items():
                target.setdefault(key, []).extend(values)
        self.files.extend(other.files)


def parse_annotated(line: str) -> tuple[str, tuple[EntitySpan, ...]]:
    """Strip Rasa entity annotations from one example, returning plain text and entity spans."""
    out: list[str] = []
    entities: list[EntitySpan] = []
    pos = 0
    length = 0
    for match in _ANNOTATION_RE.finditer(line):
        before = line[pos : match.start()]
        out.append(before)
        length += len(before)
        surface = match.group("text")
        entity, value = _annotation_target(match, surface)
        out.append(surface)
        if entity:
            entities.append(EntitySpan(entity, value, length, length + len(surface), surface))
        length += len(surface)
        pos = match.end()
    out.append(line[pos:])
    return "".join(out), tuple(entities)


def _annotation_target(match: re.Match[str], surface: str) -> tuple[str, str]:
    if match.group("short"):
        entity, _, value = match.group("short").partition(":")
        return entity.strip(), (value.strip() or surface)
    try:
        spec = json.loads(match.group("json"))
    except json.JSONDecodeError:
        return "", surface
    if not isinstance(spec, dict):
        return "", surface
    return str(spec.get("entity", "")), str(spec.get("value", surface))


def _example_lines(block: Any) -> Iterable[str]:
    if isinstance(block, list):
        for item in block:
            text = item.get("text") if isinstance(item, dict) else item
            if text:
                yield str(text).strip()
        return
    for raw in str(block or "").splitlines():
        stripped = raw.strip()
        if stripped.startswith("- "):
            yield stripped[2:].strip()
        elif stripped == "-":
            continue


def parse_nlu_document(document: dict[str, Any], source: Path | None = None) -> TrainingData:
    data = TrainingData(files=[source] if source else [])
    for item in document.get("nlu") or []:
        if not isinstance(item, dict):
            continue
        lines = list(_example_lines(item.get("examples")))
        if "intent" in item:
            intent = str(item["intent"])
            for line in lines:
                text, entities = parse_annotated(line)
                if text.strip():
                    data.examples.append(Example(text, intent, entities))
        elif "synonym" in item:
            data.synonyms.setdefault(str(item["synonym"]), []).extend(lines)
        elif "regex" in item:
            data.regexes.setdefault(str(item["regex"]), []).extend(lines)
        elif "lookup" in item:
            data.lookups.setdefault(str(item["lookup"]), []).extend(lines)
    return data


def load_yaml_file(path: Path) -> TrainingData:
    """Training data from one file (a file without `nlu:` gives empty data)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(document, dict) and "nlu" in document:
        return parse_nlu_document(document, path)
    return TrainingData()


def _yaml_files(data_dir: Path) -> list[Path]:
    files = [*data_dir.rglob("*.yml"), *data_dir.rglob("*.yaml")]
    return sorted(p for p in files if p.is_file())


def nlu_files(data_dir: Path) -> list[Path]:
    """The training files: YAML under `data_dir` with a top-level `nlu:` key."""
    return [p for p in _yaml_files(data_dir) if _NLU_KEY_RE.search(p.read_bytes())]


def side_files(data_dir: Path) -> list[Path]:
    return [p for p in _yaml_files(data_dir) if p.name in _SIDE_FILES]


def load_training_data(data_dir: Path) -> TrainingData:
    data = TrainingData()
    for path in nlu_files(data_dir):
        data.merge(load_yaml_file(path))
    for path in side_files(data_dir):
        if path.name == AMBIGUOUS_FORMS_FILE:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(raw, dict):
                for entity, forms in raw.items():
                    data.ambiguous_forms.setdefault(str(entity), []).extend(
                        str(f) for f in forms or []
                    )
    return data


def data_fingerprint(data_dir: Path) -> str:
    """A hash of every file the engine is built from; a different hash means a stale model."""
    digest = hashlib.sha256()
    for path in sorted({*nlu_files(data_dir), *side_files(data_dir)}):
        digest.update(str(path.relative_to(data_dir)).encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
