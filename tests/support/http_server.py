"""A local HTTP server on 127.0.0.1 for download tests (never the network).

``files[path] = bytes``; ``mode[path]``: "ok" | "truncate" (a third, then the connection
closes; the next request gets the rest) | "error" (500) | "no-range" (ignores Range) | "gate"
(half the body, then waits for :attr:`gate` before the rest: a transfer in progress that a test
can cancel without timing). ``Range: bytes=N-`` is answered with 206 unless "no-range";
``ranges`` records each request's Range header.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
from typing import Any


class LocalServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.mode: dict[str, str] = {}
        self.ranges: list[str | None] = []
        self.gate = threading.Event()
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.lstrip("/")
                mode = srv.mode.get(path, "ok")
                rng = self.headers.get("Range")
                srv.ranges.append(rng)
                if mode == "error" or path not in srv.files:
                    self.send_error(500 if mode == "error" else 404)
                    return
                data = srv.files[path]
                start = 0
                if rng and mode != "no-range":
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "truncate":
                    srv.mode[path] = "ok"  # the next attempt gets the rest
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if mode == "gate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    srv.gate.wait(30)
                    body = body[len(body) // 2:]
                with contextlib.suppress(OSError):  # the client went away (cancelled)
                    self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
