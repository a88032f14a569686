"""Re-encrypting every stored personal-data value under the newest key."""

from __future__ import annotations

from sqlalchemy import Text, column, select, table, update
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from intake_api.crypto import get_cipher
from intake_api.db import EncryptedJSON, EncryptedText

BATCH = 500


def encrypted_columns() -> list[tuple[str, str, str]]:
    """(table, primary-key column, encrypted column) for every encrypted column."""
    found = []
    for tbl in SQLModel.metadata.sorted_tables:
        pk = [c.name for c in tbl.primary_key.columns]
        if len(pk) != 1:
            continue
        for col in tbl.columns:
            if isinstance(col.type, EncryptedText | EncryptedJSON):
                found.append((tbl.name, pk[0], col.name))
    return found


def rotate_all(engine: Engine) -> int:
    cipher = get_cipher()
    count = 0
    for table_name, pk_name, col_name in encrypted_columns():
        # Raw columns: the stored tokens themselves, not the decrypted values.
        raw = table(table_name, column(pk_name), column(col_name, Text))
        with engine.begin() as conn:
            rows = conn.execute(
                select(raw.c[pk_name], raw.c[col_name]).where(raw.c[col_name].is_not(None))
            ).all()
            for pk, token in rows:
                conn.execute(
                    update(raw).where(raw.c[pk_name] == pk).values({col_name: cipher.rotate(token)})
                )
                count += 1
    return count
