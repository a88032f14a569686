"""The repository as a reader meets it: every document the code cites is there, and the README's
layout table names every part of the two packages."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("bot", "intake_api", "bench", "tests", "nlu_data", "docker")
CITATION = re.compile(r"docs/[A-Za-z0-9_./-]+\.md")


def _texts() -> list[tuple[Path, str]]:
    found = []
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".md", ".yml", ".toml", ".html"} and path.is_file():
                found.append((path, path.read_text(encoding="utf-8", errors="replace")))
    return found


def test_every_cited_document_is_in_the_repository() -> None:
    missing = {
        f"{path.relative_to(ROOT)} cites {cited}"
        for path, text in _texts()
        for cited in CITATION.findall(text)
        if not (ROOT / cited).is_file()
    }
    assert not missing, sorted(missing)


def test_no_code_cites_documents_outside_the_repository() -> None:
    outside = [str(path.relative_to(ROOT)) for path, text in _texts() if "../shared" in text]
    outside.remove("tests/test_repository.py")
    assert not outside


def _layout_table() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `"))


def test_the_readme_layout_table_names_every_part_of_the_packages() -> None:
    table = _layout_table()
    unnamed = []
    for package in ("bot", "intake_api"):
        for part in sorted((ROOT / package).iterdir()):
            if part.name.startswith(("_", ".")) or part.name == "__pycache__":
                continue
            if part.is_dir() and not any(part.glob("*")):
                continue
            name = part.name + ("/" if part.is_dir() else "")
            if f"`{name}" not in table and f"{package}/{name}" not in table:
                unnamed.append(f"{package}/{name}")
    assert not unnamed, f"not in the README's layout table: {unnamed}"


def test_the_readme_layout_table_names_every_channel_folder() -> None:
    table = _layout_table()
    channels = [
        p.name for p in (ROOT / "bot" / "channels").iterdir() if (p / "__init__.py").exists()
    ]
    assert channels
    assert [c for c in channels if f"`{c}/`" not in table] == []
