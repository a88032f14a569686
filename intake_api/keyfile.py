"""Secrets for the embedded set-up: made once on first start, never shipped as defaults.

A deployment sets HOTLINE_ENCRYPTION_KEYS and HOTLINE_BLIND_INDEX_KEY; `make run` without them
gets random keys kept in `<data_dir>/secrets.json` (mode 600), so restarts can still decrypt.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from intake_api.config import Settings
from intake_api.crypto import PersonalDataCipher, generate_key


def _load_or_create(path: Path) -> dict[str, object]:
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"encryption_keys": [generate_key()], "blind_index_key": secrets.token_urlsafe(32)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    return data


def cipher_from_settings(settings: Settings) -> PersonalDataCipher:
    keys = list(settings.encryption_keys)
    blind = settings.blind_index_key
    if not keys or not blind:
        stored = _load_or_create(settings.data_dir / "secrets.json")
        keys = keys or list(stored["encryption_keys"])  # type: ignore[arg-type]
        blind = blind or str(stored["blind_index_key"])
    return PersonalDataCipher(keys, blind)
