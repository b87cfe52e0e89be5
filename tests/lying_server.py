"""An HTTP proxy in front of moto's S3 server whose object bodies never end.

Listings and HEAD requests pass through unchanged; a GET of an object answers
with the object's headers but no ``Content-Length`` (HTTP/1.0, so the body runs
until the connection closes), the object's bytes, then zeros for as long as the
client reads: a server that lies about nothing but never stops.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP = {"content-length", "connection", "transfer-encoding", "keep-alive", "host"}


class EndlessBodies:
    """Serve on 127.0.0.1 (``endpoint``); ``close()`` stops it. ``sent`` counts body bytes
    written to clients (the kernel may buffer some the client never read)."""

    def __init__(self, upstream: str) -> None:
        host, port = urlsplit(upstream).hostname, urlsplit(upstream).port
        owner = self
        self.sent = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _upstream(self) -> http.client.HTTPResponse:
                conn = http.client.HTTPConnection(host, port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                conn.request(self.command, self.path, headers=headers)
                return conn.getresponse()

            def do_HEAD(self) -> None:
                res = self._upstream()
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() not in HOP - {"content-length"}:
                        self.send_header(k, v)
                self.end_headers()

            def do_GET(self) -> None:
                res = self._upstream()
                body = res.read()
                listing = "list-type" in self.path or res.status != 200
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() not in HOP or (listing and k.lower() == "content-length"):
                        self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                    zeros = bytes(1 << 16)
                    while not listing:
                        self.wfile.write(zeros)
                        owner.sent += len(zeros)
                except OSError:  # the client hung up
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
