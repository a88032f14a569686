"""The floor of the work, for bench/load.py: a bare FastAPI endpoint that inserts one row per
request into a table of its own, in the same database and under the same uvicorn as
`hotline serve`. Whatever the service does for a message costs at least this.

    .venv/bin/python bench/floor.py --port 8100 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, create_engine, func
from starlette.concurrency import run_in_threadpool

from intake_api.db import POOL_SIZE

metadata = MetaData()
floor_rows = Table(
    "bench_floor",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
)


def make_app(database_url: str) -> FastAPI:
    # The service's pool, so the floor has the same number of connections to work with.
    engine = create_engine(database_url, pool_size=POOL_SIZE, max_overflow=0)
    metadata.create_all(engine)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def insert(body: str) -> None:
        with engine.begin() as conn:
            conn.execute(floor_rows.insert().values(body=body))

    # Like the service's webhooks: the body read on the event loop, the database call in the
    # thread pool.
    @app.post("/floor")
    async def floor(request: Request) -> dict[str, Any]:
        await run_in_threadpool(insert, (await request.body()).decode())
        return {"ok": True}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.database_url),
        host="127.0.0.1",
        port=args.port,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
