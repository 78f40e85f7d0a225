"""The audit trail: one event per token request, never a password; old events purged."""

import hashlib
import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from oauthgw.models import AuditEvent
from oauthgw.observability.audit import audit_events_purge
from tests.oauthgw.conftest import PASSWORD, USERNAME

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
