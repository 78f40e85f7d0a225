"""How token rows are written: what a rotation leaves behind, in how many statements, all or nothing."""

import hashlib
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.models import DPoPBinding
from tests.oauthgw.conftest import PASSWORD, USERNAME

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
TOKEN_TABLES = (AccessToken._meta.db_table, RefreshToken._meta.db_table)


def checksum(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def refresh(post_token, app, refresh_token: str):
    return post_token({"grant_type": "refresh_token", "refresh_token": refresh_token}, app=app)


def token_statements(captured) -> list[str]:
    return [query["sql"].split(" ", 1)[0] for query in captured if any(t in query["sql"] for t in TOKEN_TABLES)]


def transaction_statements(captured) -> list[str]:
    return [query["sql"].split(" ", 1)[0] for query in captured if query["sql"].startswith(("BEGIN", "COMMIT", "SAV"))]


@pytest.mark.django_db
def test_a_refresh_revokes_the_old_refresh_token_deletes_its_access_token_and_keeps_the_family(
    post_token, password_login, make_client
):
    app = make_client()
    first = password_login(app)
    old = RefreshToken.objects.get(token_checksum=checksum(first["refresh_token"]))

    second = refresh(post_token, app, first["refresh_token"]).json()

    old.refresh_from_db()
    assert old.revoked is not None
    assert old.access_token_id is None
    assert not AccessToken.objects.filter(token_checksum=checksum(first["access_token"])).exists()
    new_access = AccessToken.objects.get(token_checksum=checksum(second["access_token"]))
    assert new_access.source_refresh_token_id == old.pk
    new_refresh = RefreshToken.objects.get(token_checksum=checksum(second["refresh_token"]))
    assert (new_refresh.access_token_id, new_refresh.token_family, new_refresh.revoked) == (
        new_access.pk,
        old.token_family,
        None,
    )


@pytest.mark.django_db
def test_the_old_access_token_is_refused_right_after_a_refresh_although_it_was_cached(
    client, post_token, password_login, make_client
):
    app = make_client()
    first = password_login(app)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {first['access_token']}"}
    assert client.get("/helloworld/", **bearer).status_code == 200

    assert refresh(post_token, app, first["refresh_token"]).status_code == 200

    response = client.get("/helloworld/", **bearer)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


@pytest.mark.django_db(transaction=True)
def test_a_refresh_reads_and_locks_once_and_writes_four_rows_in_one_transaction(
    post_token, password_login, make_client
):
    app = make_client()
    first = password_login(app)

    with CaptureQueriesContext(connection) as captured:
        response = refresh(post_token, app, first["refresh_token"])

    assert response.status_code == 200, response.content
    assert token_statements(captured) == ["SELECT", "INSERT", "INSERT", "UPDATE", "DELETE"]
    if connection.vendor == "postgresql":
        assert transaction_statements(captured) == ["BEGIN", "COMMIT"]
    assert not [query for query in captured if "SAVEPOINT" in query["sql"]]


@pytest.mark.django_db(transaction=True)
def test_client_credentials_writes_its_token_in_one_statement_without_a_transaction(post_token, make_client):
    app = make_client(grant_types="client_credentials")
    post_token({"grant_type": "client_credentials"}, app=app)  # loads the client

    with CaptureQueriesContext(connection) as captured:
        response = post_token({"grant_type": "client_credentials"}, app=app)

    assert response.status_code == 200, response.content
    assert token_statements(captured) == ["INSERT"]
    assert transaction_statements(captured) == []


@pytest.mark.django_db(transaction=True)
def test_a_password_grant_leaves_no_access_token_when_its_refresh_token_cannot_be_written(
    post_token, make_client, upstream
):
    app = make_client()
    upstream.accepts()

    with mock.patch.object(RefreshToken, "save", side_effect=DatabaseError("disk full")), pytest.raises(DatabaseError):
        post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app)

    assert not AccessToken.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_refresh_that_fails_half_way_leaves_the_old_pair_working(post_token, password_login, make_client):
    app = make_client()
    first = password_login(app)

    with (
        mock.patch("oauthgw.issuing.refresh._retire", side_effect=DatabaseError("connection lost")),
        pytest.raises(DatabaseError),
    ):
        refresh(post_token, app, first["refresh_token"])

    assert AccessToken.objects.count() == 1
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    assert refresh(post_token, app, first["refresh_token"]).status_code == 200


def test_only_a_refresh_token_refers_to_an_access_token_with_a_database_constraint():
    # oauthgw.issuing.refresh deletes a rotated access token with one DELETE, having
    # cleared the refresh token's pointer itself; a new reference would need the
    # deletion collector again. A DPoP binding refers to its token without a
    # constraint: one left behind binds nothing and is purged (oauthgw.dpop.bindings).
    referring = [
        (relation.related_model, relation.field.name, relation.field.db_constraint)
        for relation in AccessToken._meta.related_objects
    ]

    assert referring == [(RefreshToken, "access_token", True), (DPoPBinding, "access_token", False)]
