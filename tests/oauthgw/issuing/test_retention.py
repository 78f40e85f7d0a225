"""The purge of expired rows: what goes, what stays, and that it runs by itself at most once per interval."""

import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.issuing import retention
from oauthgw.models import AuditEvent, UpstreamSession

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


@pytest.fixture
def interval(settings):
    def set_to(seconds: int) -> None:
        settings.OAUTHGW = {**settings.OAUTHGW, "PURGE_INTERVAL": seconds}

    set_to(3600)
    return set_to


def audit_events(*ages_in_days: float) -> None:
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(time=now - timedelta(days=age), outcome="issued", status=200, latency_ms=1) for age in ages_in_days
    )


@pytest.fixture
def expired_and_live(post_token, password_login, make_client):
    """Two machine tokens (one expired), two sessions (one ended long ago), two audit events (one too old)."""
    machine = make_client(grant_types="client_credentials")
    for _ in range(2):
        assert post_token({"grant_type": "client_credentials"}, app=machine).status_code == 200
    expired = AccessToken.objects.filter(application=machine).order_by("pk").first()
    AccessToken.objects.filter(pk=expired.pk).update(expires=timezone.now() - timedelta(seconds=1))
    app = make_client()
    password_login(app)
    password_login(app)
    ended = UpstreamSession.objects.order_by("pk").first()
    # Revoked (a replay, a revocation) longer ago than replay detection keeps revoked refresh tokens.
    RefreshToken.objects.filter(token_family=ended.family).update(revoked=timezone.now() - timedelta(days=15))
    AuditEvent.objects.all().delete()
    audit_events(91, 1)
    return {"expired_token": expired.pk, "ended_session": ended.pk}


def test_a_purge_deletes_what_has_ended_and_keeps_the_rest(expired_and_live):
    report = retention.expired_rows_purge(now=timezone.now())

    assert not AccessToken.objects.filter(pk=expired_and_live["expired_token"]).exists()
    assert AccessToken.objects.filter(application__grant_types="client_credentials").count() == 1
    assert list(UpstreamSession.objects.values_list("pk", flat=True)) != [expired_and_live["ended_session"]]
    assert UpstreamSession.objects.count() == 1
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    assert AuditEvent.objects.count() == 1
    assert (report.sessions, report.audit_events) == (1, 1)


def test_the_audit_retention_counts_from_now(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "AUDIT_RETENTION_DAYS": 30}
    audit_events(20, 5)

    retention.expired_rows_purge(now=timezone.now() + timedelta(days=11))

    assert AuditEvent.objects.count() == 1


def test_when_due_it_runs_once_per_interval(interval):
    interval(1)
    audit_events(100)

    first, second = retention.expired_rows_purge_if_due(), retention.expired_rows_purge_if_due()
    audit_events(100)
    time.sleep(1.1)
    third = retention.expired_rows_purge_if_due()

    assert (first.audit_events, second, third.audit_events) == (1, None, 1)


def test_an_interval_of_zero_never_runs_it(interval):
    interval(0)
    audit_events(100)

    assert retention.expired_rows_purge_if_due() is None
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_of_many_callers_at_once_one_runs_it(interval, monkeypatch):
    # As worker processes of several instances do: the claim is one atomic add in the shared state.
    runs = []
    report = retention.PurgeReport(sessions=0, audit_events=0, audit_cutoff=timezone.now())
    monkeypatch.setattr(retention, "expired_rows_purge", lambda now: runs.append(now) or report)
    start_together = threading.Barrier(8)
    results = []

    def call() -> None:
        start_together.wait(10)
        try:
            results.append(retention.expired_rows_purge_if_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(runs) == 1
    assert sorted(results, key=str) == [None] * 7 + [report]


# --- Without a command: after requests --------------------------------------------------


@pytest.fixture
def looks(monkeypatch):
    """Each look the request trigger schedules, run at once instead of in the purge thread."""
    scheduled = []

    def run_now(function):
        scheduled.append(function)
        function()

    monkeypatch.setattr(retention, "_in_background", run_now)
    monkeypatch.setattr(retention, "_next_look", 0.0)
    monkeypatch.setattr(retention, "_purge_if_due_logged", retention.expired_rows_purge_if_due)
    return scheduled


def test_expired_rows_go_after_a_request_without_any_command(client, interval, looks):
    audit_events(100, 1)

    client.get("/healthz")

    assert AuditEvent.objects.count() == 1
    assert len(looks) == 1


def test_each_process_looks_at_most_once_a_minute(client, interval, looks, monkeypatch):
    for _ in range(5):
        client.get("/healthz")
    assert len(looks) == 1

    monkeypatch.setattr(retention, "_next_look", time.monotonic() - 1)  # a minute later
    client.get("/healthz")

    assert len(looks) == 2


def test_no_look_when_the_interval_is_zero(client, interval, looks):
    interval(0)
    audit_events(100)

    client.get("/healthz")

    assert looks == []
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_servers_timer_looks_without_any_request_once_per_process(interval, monkeypatch):
    audit_events(100)
    monkeypatch.setattr(retention, "_in_background", lambda function: function())
    monkeypatch.setattr(retention, "_next_look", 0.0)
    monkeypatch.setattr(retention, "_timer_pid", None)
    monkeypatch.setattr(retention, "_timer_stop", threading.Event())

    timer = retention.purge_timer_start()
    again = retention.purge_timer_start()
    try:
        deadline = time.monotonic() + 10
        while AuditEvent.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        retention._timer_stop.set()
        timer.join(10)

    assert not AuditEvent.objects.exists()
    assert again is None


def test_the_command_purges_now_and_says_what(expired_and_live, interval):
    out = StringIO()

    call_command("purge_expired", stdout=out)

    assert out.getvalue().startswith("Deleted expired tokens, 1 ended sessions, 0 expired login sessions, 0 expired ")
    assert AuditEvent.objects.count() == 1
