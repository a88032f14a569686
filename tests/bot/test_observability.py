"""What an operator of the system sees: `/metrics` after a scenario, and JSON log lines that
carry the request id from the webhook to the ticket and never a person's words or number.
Runs `hotline serve` as a real process, as a deployment does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
HOTLINE = Path(sys.executable).with_name("hotline")
TEXT = "cứu em với, em bị nhốt ở Campuchia, số em 0912 345 678"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_and_logs_after_a_rescue_message(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'hotline.db'}",
        "HOTLINE_DATA_DIR": str(tmp_path),
    }
    for name in ("HOTLINE_ENCRYPTION_KEYS", "HOTLINE_BLIND_INDEX_KEY", "HOTLINE_CONFIG_FILE"):
        env.pop(name, None)
    log_file = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(HOTLINE), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "hotline serve did not start"
            assert server.poll() is None, "hotline serve exited"
            time.sleep(0.2)
        answer = httpx.post(
            f"{base}/webchat/messages",
            json={"session_id": "observability-0123456789", "message_id": "m1", "text": TEXT},
            timeout=30,
        )
        assert answer.status_code == 200
        request_id = answer.headers["x-request-id"]
        metrics = httpx.get(f"{base}/metrics", timeout=10).text
    finally:
        server.terminate()
        server.wait(timeout=20)
        log_file.close()

    assert 'hotline_messages_in_total{channel="webchat"} 1.0' in metrics
    assert 'hotline_tickets_filed_total{channel="webchat",priority="P1"} 1.0' in metrics
    for series in (
        "hotline_nlu_parse_seconds_count",
        "hotline_triage_seconds_count",
        "hotline_outbox_depth",
        "hotline_outbox_oldest_age_seconds",
        "hotline_replies_waiting",
        "hotline_replies_oldest_age_seconds",
        "hotline_sla_breaches",
        "# HELP hotline_delivery_failures_total",
        "# HELP hotline_http_5xx_total",
    ):
        assert series in metrics, series

    lines = [line for line in (tmp_path / "server.log").read_text().splitlines() if line]
    records = [json.loads(line) for line in lines]  # every line is JSON
    filed = [r for r in records if r.get("event") == "ticket_filed"]
    # Shown on failure: which request (if any) the filing was logged under tells a filing in
    # the web chat's own request from one the background round made later.
    assert filed and filed[0]["request_id"] == request_id, (request_id, filed)
    everything = "\n".join(lines)
    for secret in ("Campuchia", "nhốt", "0912", "912345678"):
        assert secret not in everything
