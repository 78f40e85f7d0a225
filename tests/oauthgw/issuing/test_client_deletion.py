"""Deleting a client for good (oauthgw.issuing.client_deletion)."""

import secrets
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.caching import bearer_cache
from oauthgw.issuing.client_deletion import ClientHoldings, client_delete, client_holdings
from oauthgw.models import Application, AuditEvent, DeletedClient

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def hello(client, access_token: str) -> int:
    return client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code


def expired_tokens(app, owner, count: int) -> None:
    """What a client busy for years leaves: expired access tokens and revoked refresh tokens, linked."""
    past = timezone.now() - timedelta(days=1)
    for _ in range(count):
        refresh = RefreshToken.objects.create(
            user=owner, application=app, token=secrets.token_urlsafe(16), revoked=past
        )
        AccessToken.objects.create(
            user=owner,
            application=app,
            token=secrets.token_urlsafe(16),
            expires=past,
            scope="hello",
            source_refresh_token=refresh,
        )


@pytest.mark.django_db
def test_holdings_count_live_and_dead_tokens_sessions_and_audit_events(password_login, post_token, make_client):
    app = make_client()
    login = password_login(app)
    post_token({"grant_type": "refresh_token", "refresh_token": login["refresh_token"]}, app=app)
    post_token({"grant_type": "client_credentials"}, app=app)

    held = client_holdings(client=app)

    assert held == ClientHoldings(
        clients=1,
        access_tokens=2,
        refresh_tokens=1,
        revoked_refresh_tokens=1,
        sessions=1,
        upstream_refresh_tokens=0,
        audit_events=3,
    )


@pytest.mark.django_db
def test_deleting_a_client_ends_its_credentials_tokens_and_sessions_and_keeps_its_audit_events(
    client, password_login, post_token, make_client, django_capture_on_commit_callbacks
):
    app, other = make_client(name="retired"), make_client(name="kept")
    login = password_login(app)
    kept = password_login(other)
    owner = AccessToken.objects.get(token_checksum=bearer_cache.token_checksum(login["access_token"])).user
    expired_tokens(app, owner, 2)
    # Read once: with Redis it is now cached, in Redis and in this process's near cache.
    assert hello(client, login["access_token"]) == 200

    with django_capture_on_commit_callbacks(execute=True):
        held = client_delete(client=app)

    assert (held.access_tokens, held.expired_access_tokens, held.refresh_tokens, held.sessions) == (1, 2, 1, 1)
    assert hello(client, login["access_token"]) == 401
    refused = post_token({"grant_type": "client_credentials"}, app=app)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert not AccessToken.objects.filter(application_id=app.pk).exists()
    assert not RefreshToken.objects.filter(application_id=app.pk).exists()
    # The login's event stays. The refused request after the deletion is recorded too, as any
    # unknown client's: counted per source, without the id, which now names no client.
    assert list(AuditEvent.objects.filter(client_id=app.client_id).values_list("outcome", flat=True)) == ["issued"]
    assert AuditEvent.objects.filter(outcome="invalid_client", client_id="", count=1).exists()
    assert DeletedClient.objects.get(client_id=app.client_id).name == "retired"
    assert hello(client, kept["access_token"]) == 200
    assert RefreshToken.objects.filter(application=other).count() == 1


@pytest.mark.django_db
def test_deleting_loads_no_expired_token_and_costs_the_same_statements_however_many_there_are(
    password_login, make_client
):
    loaded = []

    def count(sender, instance, **kwargs):
        loaded.append(sender)

    statements, rows = [], []
    post_init.connect(count, sender=AccessToken)
    post_init.connect(count, sender=RefreshToken)
    try:
        for expired in (1, 40):
            app = make_client()
            password_login(app)
            owner = AccessToken.objects.get(application=app).user
            expired_tokens(app, owner, expired)
            loaded.clear()
            with CaptureQueriesContext(connection) as queries:
                client_delete(client=app)
            statements.append(len(queries))
            rows.append(len(loaded))
    finally:
        post_init.disconnect(count, sender=AccessToken)
        post_init.disconnect(count, sender=RefreshToken)

    assert statements[0] == statements[1]
    # The one live access token, for its deletion signal; nothing of the years behind it.
    assert rows == [1, 1]


@pytest.mark.django_db
def test_deleting_a_client_that_is_gone_does_nothing(make_client):
    app = make_client()
    client_delete(client=app)

    assert client_delete(client=app) is None
    assert DeletedClient.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_deletions_at_once_delete_once(make_client):
    app = make_client()
    copies = [Application.objects.get(pk=app.pk) for _ in range(2)]
    start = threading.Barrier(2)
    results = []

    def delete(copy):
        try:
            start.wait(5)
            results.append(client_delete(client=copy))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=delete, args=(copy,)) for copy in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(result is None for result in results) == [False, True]
    assert not Application.objects.filter(pk=app.pk).exists()
