"""The production HTTP server: ``python -m gatewayproj.server``.

Granian (a Rust HTTP server) with several worker processes, each serving
``gatewayproj.rsgi`` (Django behind a bridge that reads whole bodies under a
deadline, then runs the view in a bounded thread pool). On this project's bench
it serves about twice the bearer-token calls of gunicorn gthread on the same
cores (bench/README.md); gunicorn stays usable with ``gunicorn.conf.py``.

Environment:
  GATEWAY_BIND (127.0.0.1:8000), WEB_CONCURRENCY (worker processes: two per core),
  GATEWAY_THREADS (4 per worker: requests served at once by Django),
  GATEWAY_BODY_READ_TIMEOUT (10: seconds for a request's headers, and then for its
  whole body), GATEWAY_GRACEFUL_TIMEOUT (30: seconds a stopping worker may finish
  its requests), GATEWAY_ACCESS_LOG (1), PROMETHEUS_MULTIPROC_DIR (a fresh
  temporary directory, emptied at start).

Signals to the main process: SIGTERM or SIGINT stops it (workers finish their
requests first); SIGHUP replaces the workers one by one, each new one serving
before the old one stops, which loads new code without refusing a connection.
A worker that dies is replaced, and its Prometheus live gauges are dropped.
"""

import logging
import multiprocessing
import os
import shutil
import tempfile

from granian.constants import Interfaces, Loops
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server import Server

from gatewayproj.env import env_str

TARGET = "gatewayproj.rsgi:application"
# The request line and headers together; larger requests get 431 before Django sees them.
MAX_HEADER_BYTES = 16 * 1024
# Requests in progress per worker (reading their body, waiting for a thread, or running):
# a bound on what a flood of slow clients can hold, far above what the threads serve.
BACKPRESSURE = 256


class GatewayServer(Server):
    """Granian's multi-process server, which also drops a replaced worker's live gauges."""

    def signal_handler_interrupt(self, *args, **kwargs):
        if self.pid is not None and os.getpid() != self.pid:
            # A worker forked a moment ago still runs the main process's handlers: told to
            # stop before it serves anything, it stops. (Granian's would only set a flag
            # on its copy of the server, and the worker would serve on, unstoppable.)
            os._exit(0)
        super().signal_handler_interrupt(*args, **kwargs)

    def _respawn_workers(self, workers, spawn_target, target_loader, delay: float = 0):
        # Private in granian 2.8 (tests/gatewayproj/test_server.py pins it): every worker
        # that dies or is reloaded away passes through here, and is joined before it returns.
        pids = [self.wrks[idx].inner.pid for idx in workers]
        result = super()._respawn_workers(workers, spawn_target, target_loader, delay)
        _mark_dead(pids)
        return result


def _mark_dead(pids: list[int]) -> None:
    from prometheus_client import multiprocess

    for pid in pids:
        multiprocess.mark_process_dead(pid)


class ExpectedWorkerCount(logging.Filter):
    """Drops granian's warning that workers outnumber cores: two per core is chosen (build_server)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Configured number of workers appears to be higher")


def _log_config() -> dict:
    plain = env_str("DJANGO_LOG_FORMAT", "json") == "plain"
    formatter = (
        {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
        if plain
        else {"()": "oauthgw.observability.json_logs.JsonFormatter"}
    )
    return {
        "formatters": {"server": formatter},
        "filters": {"workers": {"()": "gatewayproj.server.ExpectedWorkerCount"}},
        "handlers": {
            "server": {
                "class": "logging.StreamHandler",
                "formatter": "server",
                "filters": ["workers"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {"_granian": {"handlers": ["server"], "level": "INFO", "propagate": False}},
    }


def build_server() -> GatewayServer:
    host, _, port = env_str("GATEWAY_BIND", "127.0.0.1:8000").rpartition(":")
    read_timeout = float(env_str("GATEWAY_BODY_READ_TIMEOUT", "10"))
    server = GatewayServer(
        TARGET,
        address=host.strip("[]"),
        port=int(port),
        interface=Interfaces.RSGI,
        loop=Loops.uvloop,
        # Two per core, as gunicorn.conf.py: a worker's Django threads share one GIL, and
        # its event loop needs it too to hand answers back.
        workers=int(env_str("WEB_CONCURRENCY") or 2 * multiprocessing.cpu_count()),
        websockets=False,
        backpressure=BACKPRESSURE,
        http1_settings=HTTP1Settings(
            header_read_timeout=max(1, int(read_timeout * 1000)), max_buffer_size=MAX_HEADER_BYTES
        ),
        log_level=LogLevels.info,
        log_dictconfig=_log_config(),
        respawn_failed_workers=True,
        workers_kill_timeout=int(env_str("GATEWAY_GRACEFUL_TIMEOUT", "30")),
    )
    return server


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


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gatewayproj.settings")
    # Set before any worker starts: each imports prometheus_client in multi-process mode.
    owned = _metrics_directory()
    # Workers compare their parent with this, and stop when it is gone (gatewayproj.rsgi).
    os.environ["GATEWAY_SERVER_PID"] = str(os.getpid())
    server = build_server()
    try:
        server.serve()
    finally:
        if owned:
            shutil.rmtree(owned, ignore_errors=True)
        logging.shutdown()


if __name__ == "__main__":
    main()
