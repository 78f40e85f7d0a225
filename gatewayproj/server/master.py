"""The main process: one listening socket, worker processes forked from it, and the signals that run them.

It imports no Django: each worker loads the application after the fork, so a
reload serves the code on disk. In order:

1. It listens on ``GATEWAY_BIND`` — alone: an address another process already
   listens on (a second gateway on the same port) is an error, and it exits 1
   at once naming it, leaving the first undisturbed.
2. It forks ``WEB_CONCURRENCY`` workers (``worker``) and waits until each
   serves. A worker that cannot start (an import error, a failed system check)
   stops the whole server with exit status 1: a misconfigured gateway refuses
   to start rather than half-serving.
3. Signals: SIGTERM, SIGINT or SIGQUIT stop it — workers finish their requests
   within ``GATEWAY_GRACEFUL_TIMEOUT`` (30 s), then are killed; SIGHUP replaces
   the workers one at a time, each new one serving before the old one is told to
   stop, so new code is loaded without refusing a connection (a new worker that
   cannot start leaves the old ones serving). A worker that dies is replaced
   (a crashing one with growing pauses), and its Prometheus live gauges are
   dropped.
"""

import errno
import logging
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field

from gatewayproj.env import env_str
from gatewayproj.server.config import ConfigurationError, ServerConfig
from gatewayproj.server.worker import EXIT_CANNOT_START, Worker

logger = logging.getLogger("gatewayproj.server")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
_START_SECONDS = 120.0  # a worker loads Django and runs the system checks in this time, or is abandoned
_KILL_GRACE = 5.0
_RESPAWN_PAUSE_MAX = 30.0


def listen(config: ServerConfig) -> socket.socket:
    """The listening socket, or ``OSError`` when the address is taken or cannot be had."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR only: a restart may bind while old connections linger in TIME_WAIT.
        # Never SO_REUSEPORT, which would let a second server share the port unnoticed.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and config.host == "::":
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind((config.host, config.port))
        listener.listen(config.backlog)
    except OSError:
        listener.close()
        raise
    listener.setblocking(False)
    return listener


@dataclass
class _Slot:
    """One of the ``workers`` places: the process in it, and a replacement starting."""

    index: int
    pid: int | None = None
    crashes: int = 0
    respawn_at: float | None = None
    ready_at: float = field(default=0.0)


@dataclass
class _Starting:
    slot: _Slot
    pipe: int
    started: float
    replaces: int | None  # the pid it takes over from, on a reload


class Master:
    def __init__(self, config: ServerConfig, listener: socket.socket):
        self.config = config
        self.listener = listener
        self.slots = [_Slot(index) for index in range(config.workers)]
        self.starting: dict[int, _Starting] = {}
        self.stopping: set[int] = set()  # told to stop; reaped when they have
        self.reload_queue: list[_Slot] = []
        self.signals: list[int] = []
        self.exit_status: int | None = None
        self.pid = os.getpid()

    # --- the loop --------------------------------------------------------------------

    def run(self) -> int:
        wakeup_read, wakeup_write = os.pipe()
        os.set_blocking(wakeup_read, False)
        os.set_blocking(wakeup_write, False)
        self._wakeup = (wakeup_read, wakeup_write)
        signal.set_wakeup_fd(wakeup_write, warn_on_full_buffer=False)
        for signum in (*_STOP_SIGNALS, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, self._note_signal)
        for slot in self.slots:
            self._spawn(slot)
        logger.info(
            "serving on http://%s with %s workers of %s threads",
            self.config.address,
            len(self.slots),
            self.config.threads,
        )
        while self.exit_status is None:
            pipes = [starting.pipe for starting in self.starting.values()]
            readable, _, _ = select.select([wakeup_read, *pipes], [], [], 0.5)
            if wakeup_read in readable:
                _drain(wakeup_read)
            self._handle_signals()
            self._reap()
            for pid, starting in list(self.starting.items()):
                if starting.pipe in readable:
                    self._started(pid, starting)
                elif time.monotonic() - starting.started > _START_SECONDS:
                    logger.error("worker %s did not start within %ss; stopping it", pid, _START_SECONDS)
                    self._signal(pid, signal.SIGKILL)
            self._respawn_due()
        return self.exit_status

    def _note_signal(self, signum, frame) -> None:
        self.signals.append(signum)

    def _handle_signals(self) -> None:
        while self.signals:
            signum = self.signals.pop(0)
            if signum in _STOP_SIGNALS:
                logger.info(
                    "%s: stopping (requests in progress get %ss)",
                    signal.Signals(signum).name,
                    self.config.graceful_timeout,
                )
                self.shutdown(0)
            elif signum == signal.SIGHUP:
                self._reload()

    # --- workers -----------------------------------------------------------------------

    def _spawn(self, slot: _Slot, replaces: int | None = None) -> None:
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(ready_read)
            self._become_worker(ready_write)
        os.close(ready_write)
        self.starting[pid] = _Starting(slot, ready_read, time.monotonic(), replaces)
        if replaces is None:
            slot.pid = pid

    def _become_worker(self, ready_write: int) -> None:
        status = EXIT_CANNOT_START
        try:
            signal.set_wakeup_fd(-1)
            for fd in self._wakeup:
                os.close(fd)
            for starting in self.starting.values():
                os.close(starting.pipe)
            for signum in (*_STOP_SIGNALS, signal.SIGHUP, signal.SIGCHLD):
                signal.signal(signum, signal.SIG_DFL)
            status = Worker(self.config, self.listener, ready_write, self.pid).run()
        except BaseException:
            logger.exception("worker failed")
        finally:
            logging.shutdown()
            os._exit(status)

    def _started(self, pid: int, starting: _Starting) -> None:
        try:
            ready = os.read(starting.pipe, 1) == b"1"
        except OSError:
            ready = False
        if not ready:
            return  # it died before serving: reaped in _reap
        os.close(starting.pipe)
        del self.starting[pid]
        slot = starting.slot
        slot.ready_at = time.monotonic()
        if starting.replaces is not None:
            slot.pid = pid
            self._stop_worker(starting.replaces)
            self._reload_next()

    def _stop_worker(self, pid: int) -> None:
        self.stopping.add(pid)
        self._signal(pid, signal.SIGTERM)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            _mark_dead(pid)
            self._exited(pid, os.waitstatus_to_exitcode(status))

    def _exited(self, pid: int, code: int) -> None:
        starting = self.starting.pop(pid, None)
        if starting is not None:
            os.close(starting.pipe)
            self._failed_to_start(pid, code, starting)
            return
        if pid in self.stopping:
            self.stopping.discard(pid)
            return
        slot = next((slot for slot in self.slots if slot.pid == pid), None)
        if slot is None or self.exit_status is not None:
            return
        slot.pid = None
        if any(starting.slot is slot for starting in self.starting.values()):
            return  # its replacement is starting (a reload) and takes the slot
        quick = time.monotonic() - slot.ready_at < 5
        slot.crashes = slot.crashes + 1 if quick else 1
        pause = 0.0 if slot.crashes == 1 else min(_RESPAWN_PAUSE_MAX, 2.0 ** (slot.crashes - 1))
        logger.warning("worker %s exited (%s); a new one starts in %gs", pid, _describe(code), pause)
        slot.respawn_at = time.monotonic() + pause

    def _failed_to_start(self, pid: int, code: int, starting: _Starting) -> None:
        slot = starting.slot
        if starting.replaces is not None:
            logger.error(
                "reload abandoned: a new worker exited (%s) before serving; the running workers keep serving",
                _describe(code),
            )
            self.reload_queue.clear()
            return
        if not any(other.ready_at for other in self.slots) and code == EXIT_CANNOT_START:
            logger.error("the gateway cannot start: a worker exited (%s) before serving; see above", _describe(code))
            self.shutdown(1)
            return
        slot.pid = None
        slot.crashes += 1
        pause = min(_RESPAWN_PAUSE_MAX, 2.0**slot.crashes)
        logger.error("worker %s exited (%s) before serving; trying again in %gs", pid, _describe(code), pause)
        slot.respawn_at = time.monotonic() + pause

    def _respawn_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.respawn_at is not None and slot.respawn_at <= now and self.exit_status is None:
                slot.respawn_at = None
                self._spawn(slot)

    # --- reload and stop ----------------------------------------------------------------

    def _reload(self) -> None:
        if self.reload_queue or any(s.replaces is not None for s in self.starting.values()):
            logger.info("SIGHUP: a reload is already in progress")
            return
        logger.info("SIGHUP: replacing the workers one at a time")
        self.reload_queue = [slot for slot in self.slots if slot.pid is not None]
        self._reload_next()

    def _reload_next(self) -> None:
        while self.reload_queue:
            slot = self.reload_queue.pop(0)
            if slot.pid is not None:
                self._spawn(slot, replaces=slot.pid)
                return
        logger.info("reload done")

    def shutdown(self, status: int) -> None:
        if self.exit_status is not None:
            return
        self.exit_status = status
        pids = {slot.pid for slot in self.slots if slot.pid} | set(self.starting) | self.stopping
        for pid in pids:
            self._signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.config.graceful_timeout + _KILL_GRACE
        while pids and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                pids.discard(pid)
                _mark_dead(pid)
            else:
                time.sleep(0.05)
        for pid in pids:
            logger.warning("worker %s did not stop in time; killing it", pid)
            self._signal(pid, signal.SIGKILL)
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass

    @staticmethod
    def _signal(pid: int, signum: int) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _describe(code: int) -> str:
    return f"signal {signal.Signals(-code).name}" if code < 0 else f"status {code}"


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def _metrics_directory() -> str | None:
    """The shared directory of the workers' Prometheus samples; returns it when this process made it."""
    directory = env_str("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="oauthgw-prometheus-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        return directory
    # Counters of a previous run must not leak into this one's.
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))
    return None


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    if env_str("DJANGO_LOG_FORMAT", "json") == "plain":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        from oauthgw.observability.json_logs import JsonFormatter

        handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatewayproj.settings")
    _configure_logging()
    try:
        config = ServerConfig.from_environment()
    except ConfigurationError as exc:
        logger.error("cannot start: %s", exc)
        return 2
    try:
        listener = listen(config)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            logger.error("cannot listen on %s: the address is already in use (another gateway?)", config.address)
        else:
            logger.error("cannot listen on %s: %s", config.address, exc.strerror or exc)
        return 1
    # Set before any worker starts: each imports prometheus_client in multi-process mode.
    owned = _metrics_directory()
    try:
        return Master(config, listener).run()
    finally:
        listener.close()
        if owned:
            shutil.rmtree(owned, ignore_errors=True)
