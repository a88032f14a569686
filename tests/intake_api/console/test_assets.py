"""Everything the console needs is served by the project itself (deployments may be offline):
no page names another site, and the P1 sound is a real, short sound file."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path

from intake_api.console.web import STATIC, TEMPLATES
from tests.intake_api.console.conftest import Console

_OUTSIDE = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.I)


def test_no_template_script_or_stylesheet_reaches_outside_the_project() -> None:
    files = [*Path(TEMPLATES, "console").rglob("*"), *Path(STATIC).rglob("*")]
    texts = {f: f.read_text() for f in files if f.is_file()}
    assert len(texts) >= 10
    for path, text in texts.items():
        assert not _OUTSIDE.search(text), path
        assert "@import" not in text and "url(" not in text, path


def test_pages_load_only_their_own_assets(console: Console) -> None:
    browser = console.sign_in("operator")
    for url in ("/console", "/console/login"):
        html = browser.get(url).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources
        for source in sources:
            assert source.startswith(("/console", "data:", "#", "tel:")), source
    for asset, kind in (("console.css", "text/css"), ("console.js", "javascript")):
        response = browser.get(f"/console/static/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert browser.get("/console/static/../app.py").status_code == 404


def test_the_p1_sound_is_a_short_wav(console: Console) -> None:
    response = console.browser().get("/console/static/alert.wav")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as sound:
        seconds = sound.getnframes() / sound.getframerate()
        frames = sound.readframes(sound.getnframes())
    assert 0.3 < seconds < 1.0
    assert max(frames) > 0  # not silence
