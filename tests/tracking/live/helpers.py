"""Stand-ins for the live tests: a local HTTP receiver, the blob detector, zone JSON."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.tracking.engine.fakes import BlobDetector

__all__ = ["BlobDetector", "Receiver", "LEFT_RIGHT_ZONES"]

# The synthetic camera's 320x240 frame split in two: the blob crosses from one to the other.
LEFT_RIGHT_ZONES = [
    {"name": "left", "shape": "rect", "x": 0, "y": 0, "w": 160, "h": 240},
    {"name": "right", "shape": "rect", "x": 160, "y": 0, "w": 160, "h": 240},
]


class Receiver:
    """An HTTP server on localhost recording every POSTed JSON body with its arrival time
    (``time.monotonic_ns``); ``delay_s`` makes each answer slow (a stuck webhook)."""

    def __init__(self, delay_s: float = 0.0):
        self.bodies: list[tuple[int, dict]] = []
        self.delay_s = delay_s
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                receiver.bodies.append((time.monotonic_ns(), body))
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kinds(self) -> list[str]:
        return [body.get("kind") for _, body in self.bodies]
