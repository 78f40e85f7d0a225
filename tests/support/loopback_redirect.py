"""A native app's loopback redirect listener (RFC 8252 section 7.3): where a browser is sent back with the code.

``loopback_listener()`` listens on 127.0.0.1 on a port the system picks, records
the URL of every request that reaches it, and answers a small page, as an app
waiting for its authorization response does.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Listener:
    redirect_uri: str
    received: list[str] = field(default_factory=list)


@contextmanager
def loopback_listener(path: str = "/callback") -> Iterator[Listener]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] == path:  # not the browser's /favicon.ico
                listener.received.append(f"http://127.0.0.1:{server.server_port}{self.path}")
            body = b"<!DOCTYPE html><title>back in the app</title><p id='back'>Back in the app.</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    listener = Listener(redirect_uri=f"http://127.0.0.1:{server.server_port}{path}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()
