"""An API client per test with one signed-in account per role."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake_api.app import create_app
from intake_api.config import Settings
from intake_api.models import User
from intake_api.passwords import hash_password
from intake_api.tokens import issue_token
from tests.conftest import TEST_BLIND_KEY, TEST_KEYS

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: Argon2 is slow by design

ROLES = {
    "operator": ("operator", None),
    "police": ("police", None),
    "dolisa": ("dolisa", None),
    "supervisor": ("supervisor", None),
    "admin": ("admin", None),
    "bot": ("service", None),
    "border": ("police", "border_guard"),
    # An outside integration: files tickets and follows up on its own, nothing else.
    "partner": ("partner", None),
    # A second service account: it must not reach what the first one filed.
    "otherbot": ("service", None),
}

_keys = itertools.count()


@dataclass
class Api:
    client: TestClient
    engine: Engine
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}

    def get(self, who: str, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers(who), **kw)

    def post(self, who: str, url: str, **kw: Any) -> Any:
        headers = {**self.headers(who), **kw.pop("headers", {})}
        return self.client.post(url, headers=headers, **kw)

    def patch(self, who: str, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers=self.headers(who), **kw)

    def intake(
        self, body: dict[str, Any] | None = None, key: str | None = None, who: str = "bot"
    ) -> Any:
        key = key or f"test-key-{next(_keys):06d}"
        return self.post(
            who, "/api/v1/intake", json=body or intake_body(), headers={"Idempotency-Key": key}
        )

    def new_ticket(self, who: str = "bot", **overrides: Any) -> dict[str, Any]:
        response = self.intake(intake_body(**overrides), who=who)
        assert response.status_code == 201, response.text
        return response.json()

    def refer(self, ticket_id: str, to_agency: str, reason: str, who: str = "police") -> int:
        """Refers the ticket to another agency; returns the referral's id."""
        response = self.post(
            who,
            f"/api/v1/tickets/{ticket_id}/referrals",
            json={"to_agency": to_agency, "reason": reason},
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def detail(self, ticket_id: str, who: str = "operator") -> dict[str, Any]:
        response = self.get(who, f"/api/v1/tickets/{ticket_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def audit(self, **params: Any) -> list[dict[str, Any]]:
        response = self.get("supervisor", "/api/v1/audit", params={"page_size": 500, **params})
        assert response.status_code == 200, response.text
        return response.json()["items"]


def intake_body(
    priority: str = "P2",
    category: str = "report_trafficking",
    agencies: list[str] | None = None,
    text: str = "nhà bên cạnh có người hay dẫn các cô gái trẻ sang Trung Quốc lấy chồng",
    phone: str | None = "+84912345678",
    channel: str = "telegram",
    province: str | None = "Nghệ An",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "channel": channel,
        "reporter": {
            "channel_user_id": "tg-555001",
            "phone": phone,
            "name": "Nguyễn Thị Lan",
            "anonymous": False,
            "consent_to_contact": True,
        },
        "transcript": [{"direction": "in", "text": text}],
        "nlu": {"text": text, "intent": {"name": category, "confidence": 0.93}, "entities": []},
        "triage": {
            "priority": priority,
            "category": category,
            "agencies": agencies or ["police"],
            "reasons": ["a concrete case"],
        },
        "province": province,
        "country": "Trung Quốc",
        **extra,
    }


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url="sqlite://",  # unused: the engine is passed in
        data_dir=tmp_path,
        encryption_keys=TEST_KEYS,
        blind_index_key=TEST_BLIND_KEY,
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def add_accounts(engine: Engine) -> dict[str, str]:
    """One account per entry of ROLES, each with a bearer token."""
    tokens = {}
    with Session(engine) as session:
        for name, (role, agency) in ROLES.items():
            user = User(username=name, password_hash=_PASSWORD_HASH, roles=role, agency=agency)
            session.add(user)
            session.commit()
            tokens[name] = issue_token(session, user, timedelta(hours=1))
    return tokens


@pytest.fixture
def api(engine: Engine, settings: Settings) -> Iterator[Api]:
    app = create_app(settings, engine)
    tokens = add_accounts(engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, engine=engine, tokens=tokens)
