"""One HTTP/1.1 connection of a worker: read whole requests under deadlines, hand them on, write answers.

The request line, headers and body are parsed by httptools (llhttp, Node.js's
parser) in the worker's event loop, and only a complete request is handed to a
thread (``scheduling``). Every phase has a deadline, counted from when the
connection had something to do, not from its last byte, so a client that
trickles bytes gets no more time than one that sends nothing:

- a new connection: its request line and headers within ``header_timeout`` of
  the accept, or it is closed (with 408 if it had started);
- a kept-alive connection: its next request begins within ``keepalive_timeout``
  of the last answer, and its headers arrive within ``header_timeout`` of that;
- a body: within ``body_timeout`` of its headers, else 408;
- an answer: taken by the client within ``send_timeout``, else the connection
  is cut.

A body larger than Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` gets 413 before it
is read (or as soon as its chunks pass the limit); headers over
``max_header_bytes`` get 431. Pipelined requests are answered in order, one at
a time. Deadlines are checked by the worker's sweep once a tick
(``Worker.sweep``), which costs nothing per request.
"""

import asyncio
import logging
import socket
import struct
import time
from collections import deque
from urllib.parse import unquote_to_bytes

import httptools

from gatewayproj.server.admission import address_key
from gatewayproj.server.wsgi import Answer, header_environ, plain_answer, with_body

logger = logging.getLogger("gatewayproj.server")

# Phases of the request being read.
FRESH, IDLE, HEADERS, BODY = "fresh", "idle", "headers", "body"
_NEVER = float("inf")
# Requests parsed ahead of their turn before the connection stops reading.
_MAX_PIPELINED = 4
_MAX_HEADERS = 100
_MAX_TARGET = 8 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_LINGER_RESET = struct.pack("ii", 1, 0)


class _Refused(Exception):
    """A request this server answers itself, without reading on: status and description."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


class Request:
    __slots__ = ("environ", "keep_alive", "started")

    def __init__(self, environ: dict, keep_alive: bool, started: float):
        self.environ, self.keep_alive, self.started = environ, keep_alive, started


class Connection(asyncio.Protocol):
    def __init__(self, worker):
        self.worker = worker
        self.config = worker.config
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self.phase = FRESH
        self.deadline = time.monotonic() + self.config.header_timeout
        self.send_deadline = _NEVER
        self.busy = False  # a request is waiting for, or getting, its answer
        self.closed = False
        self.pending: deque[Request] = deque()
        self._paused = False
        self._refusal: tuple[int, str] | None = None
        self._writable: asyncio.Future | None = None
        # The request being read.
        self._target = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_bytes = 0
        self._environ: dict | None = None
        self._started = 0.0

    # --- admission ---------------------------------------------------------------

    @property
    def holds_request(self) -> bool:
        return self.busy or bool(self.pending)

    def evict(self) -> None:
        """Displaced by a newer connection of an address over its limit: cut at once."""
        self._cut()

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], str(peer[1])) if peer else ("", "")
        self.address = address_key(self.peer[0])
        if not self.worker.admit(self):
            self.closed = True
            transport.write(plain_answer(503, "Too many connections from this address.", extra=b"retry-after: 1\r\n"))
            transport.close()

    def connection_lost(self, exc) -> None:
        self.closed = True
        self.pending.clear()
        self.worker.release(self)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = self.worker.loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.worker.active(self)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrade: h2c and the like are not spoken here: the request is answered
            # over HTTP/1.1, and nothing after it is read.
            if self.pending:
                self.pending[-1].keep_alive = False
            self._pause()
        except httptools.HttpParserCallbackError as error:
            refused = error.__context__
            if not isinstance(refused, _Refused):
                raise
            self._refuse(refused.status, refused.description)
            return
        except httptools.HttpParserError:
            self._refuse(400, "The request is not valid HTTP/1.1.")
            return
        if self.pending and not self.busy:
            self._next_request()
        if len(self.pending) >= _MAX_PIPELINED:
            self._pause()

    # --- httptools callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        now = time.monotonic()
        if self.phase != FRESH:
            # A new connection's header deadline runs from its accept; a kept-alive one's from now.
            self.deadline = now + self.config.header_timeout
        self.phase = HEADERS
        self._target = b""
        self._headers = []
        self._header_bytes = 0
        self._body = []
        self._body_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._target += url
        if len(self._target) > _MAX_TARGET:
            raise _Refused(414, "The request target is too long.")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.config.max_header_bytes or len(self._headers) > _MAX_HEADERS:
            raise _Refused(431, "The request headers are too large.")

    def on_headers_complete(self) -> None:
        now = time.monotonic()
        self._started = now
        environ = self._environ = self.worker.environ_template.copy()
        environ["REQUEST_METHOD"] = self.parser.get_method().decode("latin-1")
        environ["SERVER_PROTOCOL"] = "HTTP/" + self.parser.get_http_version()
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = self.peer
        self._set_target(environ)
        header_environ(environ, self._headers)
        length = environ.get("CONTENT_LENGTH", "")
        limit = self.config.max_body_bytes
        if limit is not None and length.isdigit() and int(length) > limit:
            raise _Refused(413, "The request body is too large.")
        if length not in ("", "0") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            self.phase = BODY
            self.deadline = now + self.config.body_timeout
            if environ.get("HTTP_EXPECT", "").lower() == "100-continue":
                self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._body_bytes += len(body)
        limit = self.config.max_body_bytes
        if limit is not None and self._body_bytes > limit:
            raise _Refused(413, "The request body is too large.")

    def on_message_complete(self) -> None:
        environ = with_body(self._environ, b"".join(self._body))
        self._body = []
        self.pending.append(Request(environ, self.parser.should_keep_alive(), self._started))
        self.phase = IDLE
        self.deadline = _NEVER  # the next request's clock starts with this one's answer

    def _set_target(self, environ: dict) -> None:
        target = self._target
        if not target.startswith(b"/"):
            # Absolute form (RFC 9112 section 3.2.2), or "*" for OPTIONS.
            if target == b"*":
                environ["PATH_INFO"], environ["QUERY_STRING"] = "*", ""
                return
            try:
                parsed = httptools.parse_url(target)
            except httptools.HttpParserInvalidURLError:
                raise _Refused(400, "The request target is not a valid URL.") from None
            path, query = parsed.path or b"/", parsed.query or b""
        else:
            path, _, query = target.partition(b"?")
            query = query.partition(b"#")[0]
        # PEP 3333: PATH_INFO decoded, as latin-1 text of the bytes.
        environ["PATH_INFO"] = (unquote_to_bytes(path) if b"%" in path else path).decode("latin-1")
        environ["QUERY_STRING"] = query.decode("latin-1")

    # --- answering ------------------------------------------------------------------

    def _next_request(self) -> None:
        request = self.pending.popleft()
        self.busy = True
        if self._paused and len(self.pending) < _MAX_PIPELINED:
            self._resume()
        self.worker.submit(self, request)

    def answered(self, data: bytes, answer: Answer | None, keep_alive: bool, error: BaseException | None) -> None:
        """The application's answer (on the loop): write it, then go on with the next request or close.

        ``data`` is the head and whole body, or only the head of an answer streamed in pieces.
        """
        if self.closed:
            if answer is not None and answer.close is not None:
                self.worker.loop.run_in_executor(None, answer.close)
            return
        if error is not None:
            logger.error("the application failed outside Django's handler", exc_info=error)
            self.busy = False
            self._refuse(500, "The server could not answer.")
            return
        if answer.chunks is None:
            self.transport.write(data)
            self._after_answer(keep_alive)
        else:
            self.worker.loop.create_task(self._stream(data, answer, keep_alive))

    async def _stream(self, head: bytes, answer: Answer, keep_alive: bool) -> None:
        loop = self.worker.loop
        try:
            self.transport.write(head)
            while not self.closed and (piece := await loop.run_in_executor(None, _next_piece, answer.chunks)):
                self.transport.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if self._writable is not None:
                    self.send_deadline = time.monotonic() + self.config.send_timeout
                    await self._writable
            if not self.closed:
                self.transport.write(b"0\r\n\r\n")
        finally:
            if answer.close is not None:
                await loop.run_in_executor(None, answer.close)
        if not self.closed:
            self._after_answer(keep_alive)

    def _after_answer(self, keep_alive: bool) -> None:
        self.busy = False
        if self.transport.get_write_buffer_size():
            self.send_deadline = time.monotonic() + self.config.send_timeout
        if not keep_alive:
            self._close()
            return
        if self.pending:
            self._next_request()
        elif self._refusal is not None:
            self._refuse(*self._refusal)
            return
        elif self.phase == IDLE:
            self.deadline = time.monotonic() + self.config.keepalive_timeout
        if self._paused and len(self.pending) < _MAX_PIPELINED:
            self._resume()

    def _refuse(self, status: int, description: str) -> None:
        """Answer what never reaches the application, and close: the rest of the stream is not read.

        Requests read before it are answered first.
        """
        if self.busy:
            self._refusal = (status, description)
            self._pause()
            return
        self.pending.clear()
        self.transport.write(plain_answer(status, description))
        self.worker.log_refusal(self, status)
        self._close()

    # --- the sweep's verdicts --------------------------------------------------------

    def expire(self, now: float) -> None:
        """Close what has outlived its deadline (called by the worker's sweep)."""
        if self.send_deadline < now:
            if self.transport.get_write_buffer_size():
                self._cut()  # a client that stopped reading: nothing more will reach it
                return
            self.send_deadline = _NEVER
        if self.busy or self.closed or self.deadline > now:
            return
        if self.phase in (FRESH, IDLE):
            self._close()  # silent: nothing to answer
        elif self.phase == HEADERS:
            self._refuse(408, "The request headers did not arrive in time.")
        else:
            logger.info("request body not received in time from %s", self.peer[0])
            self._refuse(408, "The request body did not arrive in time.")

    def close_if_idle(self) -> None:
        """The worker is stopping: a connection between requests is closed now.

        One whose request is arriving is answered (with ``Connection: close``) if it
        arrives within its deadlines, which end before the grace period does.
        """
        if not self.holds_request and self.phase in (FRESH, IDLE):
            self._close()

    def _cut(self) -> None:
        """Close with a reset, dropping what the kernel still holds to send (SO_LINGER 0)."""
        self.closed = True
        self.deadline = _NEVER
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        self.transport.abort()

    def _close(self) -> None:
        self.closed = True
        self.deadline = _NEVER
        self.transport.close()

    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            self.transport.pause_reading()

    def _resume(self) -> None:
        self._paused = False
        self.transport.resume_reading()


# A streamed answer crosses to the loop in pieces this large.
_STREAM_PIECE = 64 * 1024


def _next_piece(chunks) -> bytes:
    parts, size = [], 0
    for chunk in chunks:
        if chunk:
            parts.append(chunk)
            size += len(chunk)
            if size >= _STREAM_PIECE:
                break
    return b"".join(parts)
