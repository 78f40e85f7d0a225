"""What the gateway stops keeping, and the purge that keeps its tables bounded without anyone running a command.

Four kinds of rows end:

- **tokens**: what django-oauth-toolkit's ``cleartokens`` deletes, in its
  batches: expired access tokens, refresh tokens past the refresh lifetime,
  revoked ones once they are that old (replay detection needs them until then),
  orphans (``oauth2_provider.models.clear_expired``); and the DPoP bindings of
  access tokens deleted without the ORM (``dpop.bindings.dpop_bindings_purge``);
- **sessions** whose token family has no live refresh token left, with the
  upstream tokens kept for them (``sessions.sessions_purge``);
- **the login page's** expired login sessions (``login_sessions.login_sessions_purge``)
  and authorization requests (``authorization.authorization_requests_purge``), with
  what they kept encrypted;
- **audit events** older than ``AUDIT_RETENTION_DAYS``
  (``observability.audit.audit_events_purge``).

``expired_rows_purge`` deletes them all now (``manage.py purge_expired``).
``expired_rows_purge_if_due`` does it at most once per ``PURGE_INTERVAL``
seconds across every worker process and gateway instance: the first caller of an
interval claims the run with an atomic ``add`` in the shared state (Redis, or the
database without it) that expires with the interval; the others find the claim
and do nothing. Two things make each process look whether a run is due, at most
once a minute, in a background thread of its own so that no response waits for
it: the end of each request (``request_finished``), whatever server runs the
gateway; and, for a gateway that is idle for hours, a timer its server may start
in each worker process (``purge_timer_start``).
"""

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from django.core.signals import request_finished
from django.db import connections
from django.utils import timezone
from oauth2_provider.models import clear_expired

from oauthgw.caching import shared_state
from oauthgw.conf import gateway_settings
from oauthgw.dpop.bindings import dpop_bindings_purge
from oauthgw.issuing.authorization import authorization_requests_purge
from oauthgw.issuing.login_sessions import login_sessions_purge
from oauthgw.issuing.sessions import sessions_purge
from oauthgw.observability.audit import audit_events_purge, audit_retention_cutoff

logger = logging.getLogger(__name__)

CLAIM_KEY = "oauthgw:retention:v1:claimed"
# How often each process looks whether a purge is due, in seconds.
LOOK_EVERY = 60.0


@dataclass(frozen=True)
class PurgeReport:
    """How many rows one purge deleted (the toolkit's token purge logs its own counts)."""

    sessions: int
    audit_events: int
    audit_cutoff: datetime
    login_sessions: int = 0
    authorization_requests: int = 0
    dpop_bindings: int = 0


def expired_rows_purge(*, now: datetime) -> PurgeReport:
    """Delete expired tokens, ended sessions and audit events older than the retention (before ``now``)."""
    # Tokens first: their sessions end with them.
    clear_expired()
    dpop_bindings = dpop_bindings_purge()
    sessions = sessions_purge()
    login_sessions = login_sessions_purge()
    authorization_requests = authorization_requests_purge()
    cutoff = audit_retention_cutoff(now=now)
    audit_events = audit_events_purge(older_than=cutoff)
    return PurgeReport(
        sessions=sessions,
        audit_events=audit_events,
        audit_cutoff=cutoff,
        login_sessions=login_sessions,
        authorization_requests=authorization_requests,
        dpop_bindings=dpop_bindings,
    )


def expired_rows_purge_if_due(*, now: datetime | None = None) -> PurgeReport | None:
    """Purge if no process of any instance has in the last ``PURGE_INTERVAL`` seconds; None if not due.

    ``PURGE_INTERVAL`` 0: never (the operator purges with ``manage.py purge_expired``).
    """
    interval = gateway_settings.PURGE_INTERVAL
    if interval <= 0 or not shared_state.add(CLAIM_KEY, time.time(), timeout=interval):
        return None
    report = expired_rows_purge(now=now or timezone.now())
    logger.info(
        "purged expired tokens, %s ended sessions and %s audit events before %s; next purge in %ss",
        report.sessions,
        report.audit_events,
        report.audit_cutoff.isoformat(timespec="seconds"),
        interval,
    )
    return report


# --- Looking after requests ---------------------------------------------------------

_next_look = 0.0
_look_lock = threading.Lock()
_purges: ThreadPoolExecutor | None = None
_purges_pid: int | None = None


def _look_after_request(sender, **kwargs) -> None:
    global _next_look
    if gateway_settings.PURGE_INTERVAL <= 0:
        return
    now = time.monotonic()
    with _look_lock:
        if now < _next_look:
            return
        _next_look = now + LOOK_EVERY
    _in_background(_purge_if_due_logged)


def _in_background(function) -> None:
    """Run ``function`` in this process's purge thread (the seam tests replace)."""
    global _purges, _purges_pid
    with _look_lock:
        # Again after a fork: a worker must not share its parent's threads.
        if _purges is None or _purges_pid != os.getpid():
            _purges = ThreadPoolExecutor(max_workers=1, thread_name_prefix="purge")
            _purges_pid = os.getpid()
        _purges.submit(function)


def _purge_if_due_logged() -> None:
    try:
        expired_rows_purge_if_due()
    except Exception:
        # The claim stays: the next process tries again after the interval, not at once.
        logger.exception("the purge of expired rows failed")
    finally:
        connections.close_all()


_timer_pid: int | None = None
_timer_stop = threading.Event()  # set by tests only: a server's timer runs as long as its process


def purge_timer_start() -> threading.Thread | None:
    """Look whether a purge is due every ``LOOK_EVERY`` seconds from now on, in this process (once per process).

    For a server to call in each worker process once it is serving; not in a
    parent that forks workers afterwards (a look opens a database connection).
    Returns the timer's thread, or None if this process has one already.
    """
    global _timer_pid
    with _look_lock:
        if _timer_pid == os.getpid():
            return None
        _timer_pid = os.getpid()
    thread = threading.Thread(target=_look_every_minute, name="purge-timer", daemon=True)
    thread.start()
    return thread


def _look_every_minute() -> None:
    while True:
        _look_after_request(None)
        if _timer_stop.wait(LOOK_EVERY):
            return


def connect_receivers() -> None:
    request_finished.connect(_look_after_request, dispatch_uid="oauthgw.retention.look_after_request")
