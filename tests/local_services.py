"""Real local services for tests: a webhook receiver (``http.server`` in a thread) and an SMTP server (aiosmtpd).

Both listen on 127.0.0.1 on a free port and keep what they receive, so a
test can check that an alert or a digest arrived, and arrived once.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


class WebhookServer:
    """Records POST bodies; answers 500 to the first ``fail_first`` requests, then 200."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        #: The Idempotency-Key header of each accepted POST.
        self.keys: list[str | None] = []
        self.requests = 0
        self.fail_first = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    outer.requests += 1
                    failing = outer.requests <= outer.fail_first
                if failing:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"boom")
                    return
                outer.bodies.append(json.loads(raw))
                outer.keys.append(self.headers.get("Idempotency-Key"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Collector:
    """aiosmtpd handler keeping every message it receives, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.rcpts: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's hook
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.rcpts.append(list(envelope.rcpt_tos))
        return "250 OK"


class SMTPServer:
    def __init__(self) -> None:
        self.handler = Collector()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller: Controller | None = None
        self.start()

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
