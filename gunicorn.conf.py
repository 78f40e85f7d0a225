"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py gatewayproj.wsgi``.

Worker class: gthread. A password-grant request spends most of its time waiting
for the external authorization server (up to OAUTHGW_UPSTREAM_TIMEOUT), and every
request waits on PostgreSQL and Redis. Threads release the GIL while they wait,
so they overlap those waits without monkey-patching (gevent/eventlet would patch
the socket, threading and DNS modules under psycopg, redis-py and requests, and a
single C call that does not yield stalls every request of the worker). Processes
give the parallelism the GIL denies threads: two per core, so one can run while
another waits, and a few threads each, because many threads in one process
contend for its GIL (on the bench, 2 processes x 4 threads mostly served fewer
bearer-token calls than 4 x 1 or 4 x 2). The upstream call runs with a hard deadline in
its own thread pool (oauthgw.upstream.client), so a slow upstream ties up at most
WORKERS x THREADS requests for at most the timeout, and the circuit breaker
then answers at once. docs/operations.md explains how to size it.

Every value can be overridden from the environment:
  GUNICORN_BIND (127.0.0.1:8000), WEB_CONCURRENCY (workers: two per core),
  GUNICORN_THREADS (4), GUNICORN_TIMEOUT (30), GUNICORN_BODY_READ_TIMEOUT (10),
  GUNICORN_ACCESS_LOG (1: JSON to stdout),
  GUNICORN_CONTROL_SOCKET (unset: no control socket), PROMETHEUS_MULTIPROC_DIR (a fresh
  temporary directory).
"""

import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Longer than the upstream deadline plus a database round trip; a worker silent
# for this long is stuck and is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Seconds a request's socket may stay silent while its body is read: a client that
# announces a body and stops sending gets 408 (oauthgw.middleware) and its worker
# thread back, instead of holding it for ever (a slow-body attack).
body_read_timeout = float(os.environ.get("GUNICORN_BODY_READ_TIMEOUT", "10"))
# Requests larger than this never reach Django (the token endpoint caps at 8 KiB).
limit_request_line = 8190
limit_request_field_size = 8190

# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl),
# which several instances on one host would share; off unless a path is given.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
if _control_socket:
    control_socket = _control_socket
else:
    control_socket_disable = True

logger_class = "gatewayproj.gunicorn_logging.JsonLogger"
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "1") != "0" else None
errorlog = "-"
# The application's own logs go to stderr as JSON (Django LOGGING).
capture_output = False

# --- Prometheus in multi-process mode -----------------------------------------------
# Each worker writes its samples to files in this directory; /metrics aggregates
# them. It must be set before any worker imports prometheus_client, and emptied
# when gunicorn starts so counters of a previous run do not leak in.
_owns_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
if _owns_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="oauthgw-prometheus-")


def pre_request(worker, req):
    req.unreader.sock.settimeout(body_read_timeout)


def on_starting(server):
    # The checks a server must pass before it answers (the issuer outside debug mode): a
    # failure stops gunicorn with the report, before any worker starts. In a child process,
    # so this one never imports the application (a reload must load the code on disk).
    checked = subprocess.run(
        [sys.executable, "-c", "from gatewayproj.serving import check_before_serving; check_before_serving()"],
        check=False,
    )
    if checked.returncode:
        sys.exit(checked.returncode)
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _owns_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def post_worker_init(worker):
    # Expired rows are purged even while no request comes (oauthgw.issuing.retention).
    from oauthgw.issuing.retention import purge_timer_start

    purge_timer_start()
