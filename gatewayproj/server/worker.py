"""A worker process: Django, an event loop that owns the connections, and a pool of threads.

Forked by the main process (``master``) with the listening socket. It imports the
application itself, so a reload (SIGHUP to the main process) brings new code; runs
Django's system checks and refuses to serve when one fails, as ``manage.py
runserver`` would; then accepts connections, reads each request whole in the
event loop (``connection``), runs Django in its threads (``scheduling``) and writes
the answers back. It stops on SIGTERM or SIGINT: no new connections, idle ones
closed, requests in progress finished within ``graceful_timeout``. It also stops
when the main process is gone, instead of serving on as an orphan nobody stops.
"""

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import replace

from gatewayproj.env import env_str
from gatewayproj.server.admission import Admission, address_key
from gatewayproj.server.config import ServerConfig
from gatewayproj.server.connection import Connection, Request
from gatewayproj.server.scheduling import Scheduler
from gatewayproj.server.wsgi import base_environ, call_application, head_bytes
from oauthgw.observability.access_log import access_log_line

logger = logging.getLogger("gatewayproj.server")

# Exit status of a worker whose application cannot start (import error, failed system check):
# the main process does not start it again and again.
EXIT_CANNOT_START = 3
# Deadlines are checked this often; no deadline is shorter than a tenth of a second.
_SWEEP_SECONDS = 0.25
_PARENT_CHECK_SECONDS = 1.0


class Worker:
    def __init__(self, config: ServerConfig, listener: socket.socket, ready_fd: int, parent: int, application=None):
        """``application``: a WSGI application to serve instead of the gateway's (for tests)."""
        self.config = config
        self.application = application
        self._behind_proxies = False
        self.access_log = _access_logger() if config.access_log else None
        # One stream, one format: plain lines next to the application's plain ones (make run).
        self._plain_log = env_str("DJANGO_LOG_FORMAT", "json") == "plain"
        self.listener = listener
        self.ready_fd = ready_fd
        self.parent = parent
        self.stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.admission = Admission(per_address=config.max_connections_per_address, total=config.max_connections)

    # --- start and stop ----------------------------------------------------------------

    def run(self) -> int:
        # Ignored until the loop handles them: the main process tells workers to stop with SIGTERM.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if self.application is None:
            try:
                self.application = self._load_gateway()
            except SystemExit as exit_:
                if not isinstance(exit_.code, int):
                    logger.error("%s", exit_.code)  # the checks' report
                return EXIT_CANNOT_START
            except Exception:
                logger.exception("the application cannot start")
                return EXIT_CANNOT_START
        import uvloop

        self.loop = uvloop.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.scheduler = Scheduler(self.config.threads, self.loop)
        host, port = self.listener.getsockname()[:2]
        self.environ_template = base_environ(server_name=host, server_port=str(port))
        self.server = self.loop.run_until_complete(
            self.loop.create_server(lambda: Connection(self), sock=self.listener, backlog=self.config.backlog)
        )
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            self.loop.add_signal_handler(signum, self.stop, signal.Signals(signum).name)
        self.loop.call_later(_SWEEP_SECONDS, self.sweep)
        self.loop.call_later(_PARENT_CHECK_SECONDS, self._check_parent)
        os.write(self.ready_fd, b"1")
        os.close(self.ready_fd)
        try:
            self.loop.run_forever()
        finally:
            self.scheduler.stop()
        return 0

    def _load_gateway(self):
        from gatewayproj.serving import check_before_serving

        # Django's checks and the gateway's serving checks (the issuer): a failure exits.
        check_before_serving()
        from django.conf import settings

        from gatewayproj.wsgi import application
        from oauthgw.conf import gateway_settings
        from oauthgw.end_user_address import end_user_address
        from oauthgw.issuing.retention import purge_timer_start

        # Expired rows go even while no request comes (requests also look, at most once a minute).
        purge_timer_start()
        self.config = replace(self.config, max_body_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        self._end_user_address = end_user_address
        self._behind_proxies = gateway_settings.TRUSTED_PROXY_COUNT > 0
        return application

    def stop(self, reason: str = "SIGTERM") -> None:
        if self.stopping:
            return
        self.stopping = True
        # No new connections; those between requests go now; requests in progress, and those
        # still arriving within their deadlines, are answered within the grace period.
        self.server.close()
        for connection in self.admission.connections():
            connection.close_if_idle()
        deadline = time.monotonic() + self.config.graceful_timeout
        self._wait_for_requests(deadline)

    def _wait_for_requests(self, deadline: float) -> None:
        if not len(self.admission) or time.monotonic() >= deadline:
            self.loop.stop()
            return
        self.loop.call_later(0.05, self._wait_for_requests, deadline)

    def _check_parent(self) -> None:
        if os.getppid() != self.parent:
            logger.warning("the server's main process %s is gone; this worker stops", self.parent)
            self.stop("parent gone")
            return
        self.loop.call_later(_PARENT_CHECK_SECONDS, self._check_parent)

    # --- connections -------------------------------------------------------------------

    def admit(self, connection: Connection) -> bool:
        if self.stopping:
            return False
        return self.admission.admit(connection)

    def active(self, connection: Connection) -> None:
        self.admission.active(connection)

    def release(self, connection: Connection) -> None:
        self.admission.release(connection)

    def sweep(self) -> None:
        self.loop.call_later(_SWEEP_SECONDS, self.sweep)
        now = time.monotonic()
        for connection in self.admission.connections():
            try:
                connection.expire(now)
            except Exception:  # one connection's failure must not end every other's deadlines
                logger.exception("closing an expired connection failed")

    # --- requests ---------------------------------------------------------------------

    def submit(self, connection: Connection, request: Request) -> None:
        if self._behind_proxies:
            key = address_key(self._end_user_address(request.environ))
        else:
            key = connection.address

        def done(result, error) -> None:
            if error is None:
                connection.answered(*result, None)
            else:
                connection.answered(b"", None, False, error)

        self.scheduler.submit(key, lambda: self.respond(request), done)

    def respond(self, request: Request):
        """In a thread: the application's answer to ``request`` as bytes to write, and the answer itself."""
        environ = request.environ
        answer = call_application(self.application, environ)
        keep_alive = request.keep_alive and not self.stopping
        head_only = environ["REQUEST_METHOD"] == "HEAD" or answer.status in (204, 304) or answer.status < 200
        chunked = answer.chunks is not None and not head_only
        data = head_bytes(answer, keep_alive=keep_alive, chunked=chunked)
        sent = 0
        if not head_only and not chunked:
            data += answer.body
            sent = len(answer.body)
        if self.access_log is not None:
            self._log(environ, answer.status, sent, answer.request_id, request.started)
        return data, answer, keep_alive

    def log_refusal(self, connection: Connection, status: int) -> None:
        if self.access_log is not None:
            environ = {"REMOTE_ADDR": connection.peer[0], "REQUEST_METHOD": None, "PATH_INFO": None}
            self._log(environ, status, 0, None, time.monotonic())

    def _log(self, environ: dict, status: int, sent: int, request_id, started: float) -> None:
        self.access_log.info(
            access_log_line(
                request_id=request_id,
                remote_addr=environ["REMOTE_ADDR"],
                method=environ["REQUEST_METHOD"],
                path=environ["PATH_INFO"],
                status=status,
                sent=sent,
                seconds=time.monotonic() - started,
                user_agent=environ.get("HTTP_USER_AGENT"),
                plain=self._plain_log,
            )
        )


def _access_logger() -> logging.Logger:
    # One JSON object per line on stdout, as gunicorn's access log was.
    access = logging.getLogger("gatewayproj.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    return access
