"""Throwaway HTTP servers on 127.0.0.1: the fakes of outside platforms, and our own ASGI apps.

`LocalHTTPServer` binds a free port, serves from a daemon thread and stops cleanly;
`QuietHandler` is the request handler base the fakes share: no request log on stderr, the body
read by `Content-Length`, and a JSON answer written in one go.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, payload: bytes, *, client_may_leave: bool = False) -> None:
        """Answer with `payload` (already JSON-encoded, or raw bytes labelled as JSON).

        With `client_may_leave`, a client that hung up first (a cancelled long poll, a timeout
        test) is not an error.
        """
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            if not client_may_leave:
                raise

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class LocalHTTPServer(ThreadingHTTPServer):
    """`handler` served on 127.0.0.1 at a free port, from a background thread."""

    daemon_threads = True
    # socketserver listens with a backlog of 5: a burst of replies opening connections at once
    # (the load bench, the fault tests' streams) overflowed it, and each dropped connection
    # waited a second for its SYN to be sent again. A platform's servers take the burst.
    request_queue_size = 128

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, keep_alive: bool = False) -> None:
        if keep_alive:
            # HTTP/1.1: a connection serves request after request, as the platforms' servers
            # do (every answer carries its Content-Length). HTTP/1.0, the default, closes
            # each connection after one answer.
            handler = type(handler.__name__, (handler,), {"protocol_version": "HTTP/1.1"})
        super().__init__(("127.0.0.1", 0), handler)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalHTTPServer:
        # A short poll interval makes shutdown() (every test teardown) return at once.
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class ServedApp:
    """An ASGI app served by uvicorn from a thread on a free port; stop() and start() again on
    the same port (the API going down and coming back)."""

    def __init__(self, app: Any) -> None:
        import socket

        self.app = app
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 20.0) -> ServedApp:
        import time

        import uvicorn

        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
