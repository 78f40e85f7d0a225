"""Liveness and readiness for load balancers: ``GET /healthz`` and ``GET /readyz``.

``/healthz`` answers 200 while the process can answer at all. ``/readyz`` answers
200 only when the database answers (on SQLite: its write lock can be had within
the readiness timeout) and the cache answers and at least one authorization
server accepts a TCP connection; otherwise 503, so a load balancer stops sending
traffic. No credentials are sent anywhere: the upstream check is a bare TCP
connect. Failures are logged; the response names only which check failed.
"""

import logging
import socket
import sqlite3
from urllib.parse import urlsplit

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from oauthgw.conf import gateway_settings
from oauthgw.models import AuthorizationServer
from oauthgw.upstream.servers import default_authorization_server
from oauthgw.views.read_only import read_only

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
_CACHE_KEY = "oauthgw:readyz"
_NO_STORE = {"Cache-Control": "no-store"}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        _sqlite_writable(connection.settings_dict["NAME"])


def _sqlite_writable(path) -> None:
    # Readers go on while another process holds SQLite's write lock, but no
    # token can be issued: ready means the lock can be had within the timeout.
    probe = sqlite3.connect(path, timeout=gateway_settings.READINESS_TIMEOUT, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
    finally:
        probe.close()


def _cache() -> None:
    cache.set(_CACHE_KEY, OK, 10)
    if cache.get(_CACHE_KEY) != OK:
        raise RuntimeError("the cache did not return what was written")


def _token_urls() -> list[str]:
    urls = [default_authorization_server().token_url]
    urls += list(AuthorizationServer.objects.filter(enabled=True).values_list("token_url", flat=True))
    return urls


def _tcp_reachable(url: str, timeout: float) -> bool:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError as exc:
        logger.warning("readiness: authorization server %s:%s unreachable: %s", parts.hostname, port, exc)
        return False


def _upstream() -> None:
    timeout = gateway_settings.READINESS_TIMEOUT
    if not any(_tcp_reachable(url, timeout) for url in _token_urls()):
        raise ConnectionError("no authorization server accepts connections")


_CHECKS = {"database": _database, "cache": _cache, "upstream": _upstream}


def _run(name: str, check) -> str:
    try:
        check()
    except Exception as exc:  # a probe reports every fault as "not ready", whatever it is
        logger.warning("readiness: %s check failed: %s: %s", name, type(exc).__name__, exc)
        return FAILED
    return OK


@login_not_required
@read_only
def healthz(request):
    return JsonResponse({"status": OK}, headers=_NO_STORE)


@login_not_required
@read_only
def readyz(request):
    results = {name: _run(name, check) for name, check in _CHECKS.items()}
    ready = all(result == OK for result in results.values())
    return JsonResponse(
        {"status": OK if ready else "unavailable", "checks": results}, status=200 if ready else 503, headers=_NO_STORE
    )
