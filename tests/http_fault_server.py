"""A loopback HTTP server that misbehaves on request, for download tests.

Each path serves a :class:`Route`: a body plus faults (500s, dropped connections,
slow bytes, lying Content-Length, Content-Disposition names). The server counts
requests and body bytes sent per path, so tests can tell a resume from a restart.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    fail_first: int = 0            # answer 500 to this many requests first
    drop_after: int | None = None  # close the connection after this many body bytes ...
    drop_times: int = 1            # ... on this many requests
    first_byte_delay: float = 0.0  # seconds before the status line
    chunk_delay: float = 0.0       # seconds between body chunks
    chunk_size: int = 16384
    ranges: bool = True
    etag: str | None = '"v1"'
    content_disposition: str | None = None
    extra_bytes: bytes = b""       # sent after the announced Content-Length
    content_type: str = "application/octet-stream"


class FaultServer:
    """``with FaultServer() as server: server.route("/f", Route(body=...)); server.url("/f")``."""

    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: dict[str, int] = {}
        self.bytes_sent: dict[str, int] = {}
        self.range_requests: dict[str, list[str]] = {}
        self.active = 0
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, route: Route) -> Route:
        self.routes[path] = route
        return route

    def count(self, path: str, sent: int = 0) -> None:
        with self._lock:
            self.bytes_sent[path] = self.bytes_sent.get(path, 0) + sent

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no response is being sent (e.g. to a client that was killed)."""
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            time.sleep(0.01)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_sent.clear()
            self.range_requests.clear()


def _handler(server: FaultServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):  # noqa: N802 - http.server naming
            with server._lock:
                server.active += 1
            try:
                self._get()
            finally:
                with server._lock:
                    server.active -= 1

        def _get(self):
            path = self.path
            route = server.routes.get(path)
            with server._lock:
                n = server.requests.get(path, 0)
                server.requests[path] = n + 1
                if self.headers.get("Range"):
                    server.range_requests.setdefault(path, []).append(self.headers["Range"])
            if route is None:
                self.send_error(404, "Not Found")
                return
            if route.first_byte_delay:
                time.sleep(route.first_byte_delay)
            if n < route.fail_first:
                self.send_error(500, "Injected failure")
                return
            if route.status != 200:
                self.send_error(route.status)
                return
            body, start, status = route.body, 0, 200
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if_range = self.headers.get("If-Range")
            if route.ranges and wanted and (if_range is None or if_range == route.etag):
                start = int(wanted.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.end_headers()
                    return
                status = 206
            payload = body[start:]
            self.send_response(status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(payload)))
            if route.ranges:
                self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.content_disposition:
                self.send_header("Content-Disposition", route.content_disposition)
            self.end_headers()
            limit = len(payload)
            if route.drop_after is not None and n - route.fail_first < route.drop_times:
                limit = min(limit, max(0, route.drop_after - start))
            sent = 0
            try:
                while sent < limit:
                    block = payload[sent:min(limit, sent + route.chunk_size)]
                    self.wfile.write(block)
                    self.wfile.flush()
                    sent += len(block)
                    server.count(path, len(block))
                    if route.chunk_delay:
                        time.sleep(route.chunk_delay)
                if limit == len(payload) and route.extra_bytes:
                    self.wfile.write(route.extra_bytes)
                    server.count(path, len(route.extra_bytes))
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

    return Handler
