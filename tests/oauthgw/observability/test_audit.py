"""The audit trail: one event per token request, unauthenticated failures counted per source; never a password."""

import hashlib
import logging
import secrets
import threading
from datetime import timedelta
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from oauthgw.models import AuditEvent
from oauthgw.observability import audit
from oauthgw.observability.audit import audit_events_purge
from tests.oauthgw.conftest import FORM, PASSWORD, TOKEN_URL, USERNAME, basic_authorization

pytestmark = pytest.mark.django_db


def test_an_issued_token_is_recorded_with_who_asked(post_token, make_client, upstream):
    app = make_client()
    upstream.accepts()

    post_token(
        {"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app, REMOTE_ADDR="198.51.100.7"
    )

    event = AuditEvent.objects.get()
    assert (event.outcome, event.status, event.client_id, event.grant_type, event.username, event.client_ip) == (
        "issued",
        200,
        app.client_id,
        "password",
        USERNAME,
        "198.51.100.7",
    )
    assert event.latency_ms >= 0


def test_a_rejected_password_is_recorded_without_the_password(post_token, make_client, upstream):
    app = make_client()
    upstream.rejects()

    post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app)

    event = AuditEvent.objects.get()
    assert (event.outcome, event.status) == ("invalid_grant", 401)
    stored = " ".join(str(value) for value in AuditEvent.objects.values().get().values())
    assert PASSWORD not in stored


def test_a_wrong_client_secret_is_recorded_as_invalid_client_without_the_secret(post_token, make_client):
    app = make_client()

    post_token({"grant_type": "client_credentials"}, app=app, secret="wrong-secret-guess")

    event = AuditEvent.objects.get()
    assert (event.outcome, event.status, event.client_id) == ("invalid_client", 401, app.client_id)
    assert "wrong-secret-guess" not in " ".join(str(value) for value in AuditEvent.objects.values().get().values())


def test_a_malformed_request_is_recorded_too(post_token, make_client):
    post_token({"grant_type": "password"}, app=make_client())

    assert AuditEvent.objects.get().outcome == "invalid_request"


def test_the_event_time_is_when_the_request_finished(post_token, make_client):
    before = timezone.now()

    post_token({"grant_type": "client_credentials"}, app=make_client())

    assert before <= AuditEvent.objects.get().time <= timezone.now()


# --- Unauthenticated failures: counted per source and interval -------------------------


def stranger(post_token, address: str = "203.0.113.50", **extra):
    """A token request with a client id nobody registered, as a flood sends them."""
    unknown = basic_authorization(secrets.token_urlsafe(12), "guess")
    return post_token({"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=unknown, REMOTE_ADDR=address, **extra)


def requests_recorded() -> int:
    return sum(AuditEvent.objects.values_list("count", flat=True))


def test_a_flood_of_unknown_client_ids_from_one_address_grows_the_trail_by_a_bounded_number_of_rows(post_token):
    for _ in range(300):
        assert stranger(post_token).status_code == 401

    # One row per minute of the flood (two if it straddled the minute), counting every request.
    assert AuditEvent.objects.count() <= 2
    assert requests_recorded() == 300
    event = AuditEvent.objects.first()
    assert (event.outcome, event.status, event.client_ip, event.client_id, event.username) == (
        "invalid_client",
        401,
        "203.0.113.50",
        "",  # the ids the stranger made up are not kept
        "",
    )


def test_each_source_outcome_and_interval_has_its_own_row(post_token, make_client, monkeypatch):
    for address in ("203.0.113.50", "203.0.113.51", "203.0.113.50"):
        stranger(post_token, address)
    post_token({"grant_type": "password"}, app=make_client(), REMOTE_ADDR="203.0.113.50")  # invalid_request
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr(audit.timezone, "now", lambda: later)
    stranger(post_token)

    rows = sorted(AuditEvent.objects.values_list("client_ip", "outcome", "count"))
    assert rows == [
        ("203.0.113.50", "invalid_client", 1),
        ("203.0.113.50", "invalid_client", 2),
        ("203.0.113.50", "invalid_request", 1),
        ("203.0.113.51", "invalid_client", 1),
    ]


def test_an_ipv6_source_is_counted_per_64(post_token):
    for host in range(20):
        stranger(post_token, f"2001:db8:5:7::{host + 1:x}")

    assert AuditEvent.objects.count() == 1
    assert requests_recorded() == 20


def test_a_registered_client_with_a_wrong_secret_keeps_its_id_in_the_counted_row(post_token, make_client):
    app = make_client()
    for _ in range(3):
        post_token({"grant_type": "client_credentials"}, app=app, secret="stale-secret", REMOTE_ADDR="198.51.100.9")

    assert list(AuditEvent.objects.values_list("client_id", "outcome", "count")) == [
        (app.client_id, "invalid_client", 3)
    ]


def test_failures_of_an_authenticated_client_keep_a_row_each(post_token, make_client, upstream):
    app = make_client()
    upstream.rejects()
    for n in range(3):
        post_token({"grant_type": "password", "username": f"user-{n}", "password": "wrong"}, app=app)

    assert sorted(AuditEvent.objects.values_list("username", "count")) == [("user-0", 1), ("user-1", 1), ("user-2", 1)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_from_one_source_in_several_connections_add_up_in_one_row(client):
    start_together = threading.Barrier(8)

    def flood() -> None:
        start_together.wait(10)
        try:
            for _ in range(10):
                client.post(
                    TOKEN_URL,
                    urlencode({"grant_type": "client_credentials"}),
                    content_type=FORM,
                    HTTP_AUTHORIZATION=basic_authorization(secrets.token_urlsafe(12), "guess"),
                    REMOTE_ADDR="203.0.113.60",
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert AuditEvent.objects.count() <= 2
    assert requests_recorded() == 80


@pytest.mark.django_db(transaction=True)
def test_a_broken_audit_table_is_logged_and_the_token_is_still_issued(post_token, make_client, caplog):
    caplog.set_level(logging.ERROR, logger="oauthgw.observability.audit")
    app = make_client(grant_types="client_credentials")
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    away = connection.ops.quote_name(AuditEvent._meta.db_table + "_away")
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {away}")
    try:
        response = post_token({"grant_type": "client_credentials"}, app=app)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {away} RENAME TO {table}")

    assert response.status_code == 200, response.content
    checksum = hashlib.sha256(response.json()["access_token"].encode()).hexdigest()
    assert get_access_token_model().objects.filter(token_checksum=checksum).exists()
    messages = [record.getMessage() for record in caplog.records if record.name == "oauthgw.observability.audit"]
    assert len(messages) == 1
    assert messages[0].startswith("could not record the audit event of a issued token request")
    assert not [record for record in caplog.records if record.exc_info]
    assert not AuditEvent.objects.exists()


def _events(*ages_in_days: float) -> None:
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(time=now - timedelta(days=age), outcome="issued", status=200, latency_ms=1) for age in ages_in_days
    )


def test_purge_deletes_events_before_the_cutoff_in_batches():
    _events(100, 100, 100, 100, 100, 1)

    deleted = audit_events_purge(older_than=timezone.now() - timedelta(days=90), batch_size=2)

    assert deleted == 5
    assert AuditEvent.objects.count() == 1


def test_the_purge_command_keeps_the_retention_setting(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "AUDIT_RETENTION_DAYS": 30}
    _events(31, 29, 0)
    out = StringIO()

    call_command("purge_audit_events", stdout=out)

    assert "Deleted 1 audit events" in out.getvalue()
    assert AuditEvent.objects.count() == 2


def test_a_session_the_upstream_rejected_is_recorded_as_such_with_its_owner(
    post_token, make_client, upstream, settings
):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_REVERIFY": "always"}
    app = make_client()
    answer = {"access_token": "a", "token_type": "bearer", "refresh_token": "upstream-rt"}
    upstream.mock.add("POST", upstream.url, json=answer)
    pair = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app).json()
    upstream.mock.replace("POST", upstream.url, status=400, json={"error": "invalid_grant"})

    post_token({"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}, app=app)

    event = AuditEvent.objects.order_by("-pk").first()
    assert (event.outcome, event.status, event.grant_type, event.username) == (
        "session_rejected",
        401,
        "refresh_token",
        USERNAME,
    )
