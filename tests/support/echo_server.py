"""One worker of the production server (``gatewayproj.server``) serving a small WSGI application.

The HTTP layer under test without Django: ``python -m tests.support.echo_server``
listens on a free loopback port, prints it, and serves until SIGTERM. Settings
come from the same environment variables as the real server's
(``GATEWAY_BODY_READ_TIMEOUT``, ``GATEWAY_MAX_CONNECTIONS_PER_ADDRESS``…).

Paths: ``/slow?SECONDS`` answers after sleeping; ``/large?BYTES`` streams that
many bytes; anything else echoes the request as JSON (method, path, query,
headers, body).
"""

import json
import os
import socket
import sys
import time
from dataclasses import replace

from gatewayproj.server.config import ServerConfig
from gatewayproj.server.worker import Worker

MAX_BODY = 64 * 1024


class Streamed:
    """What Django's StreamingHttpResponse looks like to a server: ``streaming`` and pieces."""

    streaming = True

    def __init__(self, size: int):
        self.size = size
        self.closed = False

    def __iter__(self):
        piece = b"x" * 65536
        sent = 0
        while sent < self.size:
            chunk = piece[: self.size - sent]
            sent += len(chunk)
            yield chunk

    def close(self):
        self.closed = True


def echo(environ, start_response):
    path, query = environ["PATH_INFO"], environ["QUERY_STRING"]
    if path == "/slow":
        time.sleep(float(query or 1))
    if path == "/large":
        size = int(query)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        return Streamed(size)
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    document = {
        "method": environ["REQUEST_METHOD"],
        "path": path,
        "query": query,
        "remote_addr": environ["REMOTE_ADDR"],
        "headers": {key: value for key, value in environ.items() if key.startswith(("HTTP_", "CONTENT_"))},
        "body": body.decode("latin-1"),
        "pid": os.getpid(),
    }
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Request-ID", "echo")])
    return [json.dumps(document).encode()]


def main() -> int:
    config = replace(ServerConfig.from_environment(), host="127.0.0.1", port=0, max_body_bytes=MAX_BODY, workers=1)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(config.backlog)
    listener.setblocking(False)
    _, ready_write = os.pipe()
    print(listener.getsockname()[1], flush=True)
    return Worker(config, listener, ready_write, os.getppid(), application=echo).run()


if __name__ == "__main__":
    sys.exit(main())
