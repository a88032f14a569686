"""Personal data never sits in clear in the database, and key rotation keeps it readable."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from intake_api import key_rotation
from intake_api.crypto import PersonalDataCipher, configure_cipher, generate_key, get_cipher
from intake_api.key_rotation import rotate_all
from intake_api.models import SQLModel, Ticket, TicketMessage
from tests.conftest import TEST_BLIND_KEY, TEST_KEYS
from tests.intake_api.conftest import Api, intake_body

SECRET_TEXT = "em bị nhốt ở Sihanoukville, họ thu hộ chiếu của em"
PHONE = "+84987654321"
NAME = "Trần Thị Hoa"


def _dump_every_text_cell(api: Api) -> str:
    cells: list[str] = []
    with api.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                cells.extend(str(v) for v in row)
    return "\n".join(cells)


def test_no_phone_name_or_message_text_is_stored_in_clear(api: Api) -> None:
    body = intake_body(text=SECRET_TEXT, phone=PHONE, location={"lat": 10.6093, "lon": 103.5296})
    body["reporter"]["name"] = NAME
    tid = api.intake(body).json()["id"]
    api.post("police", f"/api/v1/tickets/{tid}/notes", json={"text": f"gọi lại số {PHONE}"})
    api.post("bot", f"/api/v1/tickets/{tid}/messages", json={"text": "tin nhắn thứ hai bí mật"})
    raw = _dump_every_text_cell(api)
    for secret in (
        SECRET_TEXT,
        "Sihanoukville",
        PHONE,
        "987654321",
        NAME,
        "tg-555001",
        "bí mật",
        "hộ chiếu",
        "103.5296",
    ):
        assert secret not in raw, f"{secret!r} is stored in clear"
    # The API still shows it to the staff who may see it.
    detail = api.get("police", f"/api/v1/tickets/{tid}").json()
    assert detail["reporter"]["phone"] == PHONE and detail["transcript"][0]["text"] == SECRET_TEXT


def test_key_rotation_rewraps_data_under_the_new_key(api: Api) -> None:
    old_cipher = get_cipher()
    tid = api.intake(intake_body(text=SECRET_TEXT, phone=PHONE)).json()["id"]
    new_key = generate_key()
    rotated = PersonalDataCipher([new_key, *TEST_KEYS], TEST_BLIND_KEY)
    configure_cipher(rotated)
    try:
        assert rotate_all(api.engine) > 0
        configure_cipher(PersonalDataCipher([new_key], TEST_BLIND_KEY))
        with Session(api.engine) as session:
            ticket = session.exec(select(Ticket).where(Ticket.id == tid)).one()
            assert ticket.reporter_phone == PHONE
    finally:
        configure_cipher(old_cipher)


def test_key_rotation_never_overwrites_a_value_written_while_it_runs(api: Api) -> None:
    """The service runs during a rotation: a value rewritten between the rotation's read and
    its write (a staff member correcting a phone number) must stay, not be replaced by the
    re-encrypted older value."""
    old_cipher = get_cipher()
    tid = api.intake(intake_body(text=SECRET_TEXT, phone=PHONE)).json()["id"]
    corrected = "+84912000111"
    new_key = generate_key()
    both = PersonalDataCipher([new_key, *TEST_KEYS], TEST_BLIND_KEY)
    with api.engine.connect() as conn:
        (stored_phone,) = conn.execute(
            text("SELECT reporter_phone FROM tickets WHERE id = :id"), {"id": tid}
        ).one()

    rotate = both.rotate

    def rotate_while_a_process_writes(token: str) -> str:
        if token == stored_phone:
            # Another process, holding the new key too, writes the row meanwhile.
            with Session(api.engine) as session:
                ticket = session.exec(select(Ticket).where(Ticket.id == tid)).one()
                ticket.reporter_phone = corrected
                session.add(ticket)
                session.commit()
        return rotate(token)

    both.rotate = rotate_while_a_process_writes  # type: ignore[method-assign]
    configure_cipher(both)
    try:
        rotate_all(api.engine)
        configure_cipher(PersonalDataCipher([new_key], TEST_BLIND_KEY))
        with Session(api.engine) as session:
            ticket = session.exec(select(Ticket).where(Ticket.id == tid)).one()
            assert ticket.reporter_phone == corrected
            # The rest was rewritten: readable under the new key alone.
            (message,) = session.exec(
                select(TicketMessage).where(TicketMessage.ticket_id == tid)
            ).all()
            assert message.text == SECRET_TEXT
    finally:
        configure_cipher(old_cipher)


def test_key_rotation_in_batches_rewrites_every_value_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_cipher = get_cipher()
    ids = [
        api.intake(intake_body(text=f"{SECRET_TEXT} {n}", phone=PHONE)).json()["id"]
        for n in range(5)
    ]
    monkeypatch.setattr(key_rotation, "BATCH", 2)  # every table spans several batches
    with api.engine.connect() as conn:
        values = sum(
            conn.execute(
                text(f'SELECT COUNT(*) FROM "{name}" WHERE "{column}" IS NOT NULL')
            ).scalar_one()
            for name, _pk, column in key_rotation.encrypted_columns()
        )
    new_key = generate_key()
    configure_cipher(PersonalDataCipher([new_key, *TEST_KEYS], TEST_BLIND_KEY))
    try:
        assert rotate_all(api.engine) == values
        configure_cipher(PersonalDataCipher([new_key], TEST_BLIND_KEY))
        with Session(api.engine) as session:
            tickets = session.exec(select(Ticket).where(col(Ticket.id).in_(ids))).all()
            assert [t.reporter_phone for t in tickets] == [PHONE] * 5
    finally:
        configure_cipher(old_cipher)


def test_the_sqlite_file_is_created_readable_by_its_owner_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    from intake_api.db import make_engine

    path = tmp_path / "sub" / "hotline.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x int)"))
    engine.dispose()
    assert path.stat().st_mode & 0o777 == 0o600

    path.chmod(0o644)  # a file an older version created
    make_engine(f"sqlite:///{path}").dispose()
    assert path.stat().st_mode & 0o777 == 0o600
