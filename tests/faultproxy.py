"""A small fault-injecting HTTP proxy in front of the real vLLM server (tests only).

``schedule(n)`` gives the fault for the n-th request (0-based): ``pass`` forwards it; ``500``,
``429`` (with Retry-After), ``stall`` (answer after the client's timeout), ``cut`` (drop the
connection in the middle of the body) and ``garbage`` (a 200 whose body is not JSON) do not.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FaultProxy:
    def __init__(self, upstream: str, schedule: Callable[[int], str], *, stall_s: float = 4.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.schedule = schedule
        self.stall_s = stall_s
        self.count = 0
        self.faults: dict[str, int] = {}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy.lock:
                    n = proxy.count
                    proxy.count += 1
                fault = proxy.schedule(n)
                with proxy.lock:
                    proxy.faults[fault] = proxy.faults.get(fault, 0) + 1
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    proxy.serve(self, fault, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def serve(self, h: BaseHTTPRequestHandler, fault: str, body: bytes) -> None:
        if fault == "500":
            self._send(h, 500, b'{"error": {"message": "injected 500"}}')
        elif fault == "429":
            self._send(h, 429, b'{"error": {"message": "injected 429"}}', {"Retry-After": "0"})
        elif fault == "stall":
            time.sleep(self.stall_s)
            self._send(h, 500, b'{"error": {"message": "too late"}}')
        elif fault == "cut":
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", "4000")
            h.end_headers()
            h.wfile.write(b'{"id": "x", "choices": [{"ind')
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)
        elif fault == "garbage":
            self._send(h, 200, b"<html>gateway says hello</html>", {"Content-Type": "application/json"})
        else:
            req = urllib.request.Request(
                self.upstream + h.path.removeprefix("/v1"),
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(req, timeout=120) as resp:
                    self._send(h, resp.status, resp.read())
            except urllib.error.HTTPError as exc:
                self._send(h, exc.code, exc.read())

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", (headers or {}).pop("Content-Type", "application/json"))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
