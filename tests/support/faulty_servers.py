"""Loopback servers that misbehave the way real upstreams do, one behaviour per server.

Each ``serve_*`` function handles one accepted connection; ``FaultyServer`` runs it
for every connection on a free port until closed.
"""

import socket
import threading
import time
from collections.abc import Callable


def read_request(conn: socket.socket) -> None:
    """Read one HTTP request, headers and Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


def serve_nothing(conn: socket.socket, stop: threading.Event) -> None:
    """Accepts, then says nothing and reads nothing."""
    stop.wait()


def serve_silence_after_the_request(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    stop.wait()


def serve_hang_up(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.close()


def serve_truncated_body(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n")
    conn.sendall(b'{"access_token": "abc", "tok')
    conn.close()


def serve_enormous_body(conn: socket.socket, stop: threading.Event) -> None:
    """A 200 whose JSON body never ends (no Content-Length), 64 KiB at a time."""
    read_request(conn)
    try:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
        conn.sendall(b'{"access_token": "abc", "padding": "')
        chunk = b"x" * 65536
        for _ in range(1024):
            if stop.is_set():
                return
            conn.sendall(chunk)
    except OSError:
        return


def serve_drip(conn: socket.socket, stop: threading.Event) -> None:
    """Answers one byte at a time, slowly enough that no single read times out."""
    read_request(conn)
    try:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        while not stop.wait(0.1):
            conn.sendall(b" ")
    except OSError:
        return


class FaultyServer:
    """Runs ``handle(conn, stop)`` for every connection to a free loopback port."""

    def __init__(self, handle: Callable[[socket.socket, threading.Event], None]):
        self._handle = handle
        self._stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/token"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self._connections.append(conn)
            threading.Thread(target=self._handle, args=(conn, self._stop), daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._listener.close()
        for conn in self._connections:
            conn.close()


class BlackHole:
    """A port whose listen backlog is full: a connection attempt is never answered (connect timeout)."""

    def __init__(self):
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        port = self._listener.getsockname()[1]
        self._fillers = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            self._fillers.append(filler)
        time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}/token"

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._listener.close()


def closed_port_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/token"
