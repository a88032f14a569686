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
    """Re-encrypts every value under the newest key; returns how many it rewrote.

    Safe while the service runs (every process given the new key first, so what they write
    meanwhile is under it already): each value is rewritten only if it is still the one read
    (a compare-and-set), so a reporter's message or a staff note written between the read and
    the write is never replaced by a re-encryption of the older value; and rows go in batches
    of their own transactions, so no writer waits behind the whole table."""
    cipher = get_cipher()
    count = 0
    for table_name, pk_name, col_name in encrypted_columns():
        # Raw columns: the stored tokens themselves, not the decrypted values.
        raw = table(table_name, column(pk_name), column(col_name, Text))
        key, value = raw.c[pk_name], raw.c[col_name]
        after: object = None
        while True:
            with engine.begin() as conn:
                stmt = select(key, value).where(value.is_not(None)).order_by(key).limit(BATCH)
                if after is not None:
                    stmt = stmt.where(key > after)
                rows = conn.execute(stmt).all()
                for pk, token in rows:
                    rewritten = conn.execute(
                        update(raw)
                        .where(key == pk, value == token)
                        .values({col_name: cipher.rotate(token)})
                    )
                    # 0: written meanwhile, by a process that holds the new key.
                    count += rewritten.rowcount
            if len(rows) < BATCH:
                break
            after = rows[-1][0]
    return count
