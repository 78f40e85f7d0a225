"""The source document's flow with a real OAuth client library, over real HTTP."""

import time

import pytest
from oauthlib.oauth2 import InvalidGrantError, LegacyApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from tests.e2e.conftest import ODD_PASSWORD, ODD_USER, PASSWORD, USER

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("insecure_transport_ok")]


def _session_with_password_token(gateway, app_client, username=USER, password=PASSWORD):
    session = OAuth2Session(client=LegacyApplicationClient(client_id=app_client.client_id))
    token = session.fetch_token(
        gateway.token_url,
        username=username,
        password=password,
        auth=HTTPBasicAuth(app_client.client_id, app_client.raw_secret),
    )
    return session, token


def test_password_grant_issues_a_token_pair_that_calls_helloworld(gateway, app_client):
    session, token = _session_with_password_token(gateway, app_client)

    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["refresh_token"]
    assert token["refresh_token_expires_in"] == 14 * 24 * 3600
    assert token["scope"] == ["hello"]
    hello = session.get(gateway.hello_url, timeout=10)
    assert hello.status_code == 200
    assert hello.json() == {"message": "Hello, World!", "username": USER, "client_id": app_client.client_id}


def test_credentials_with_reserved_and_non_ascii_characters_reach_the_upstream_intact(gateway, app_client):
    session, _ = _session_with_password_token(gateway, app_client, ODD_USER, ODD_PASSWORD)

    assert session.get(gateway.hello_url, timeout=10).json()["username"] == ODD_USER


def test_refresh_rotates_the_pair_and_the_old_refresh_token_stops_working(gateway, app_client):
    session, first = _session_with_password_token(gateway, app_client)
    auth = HTTPBasicAuth(app_client.client_id, app_client.raw_secret)

    second = session.refresh_token(gateway.token_url, refresh_token=first["refresh_token"], auth=auth)

    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert "refresh_token_expires_in" in second
    assert session.get(gateway.hello_url, timeout=10).status_code == 200
    with pytest.raises(InvalidGrantError):
        session.refresh_token(gateway.token_url, refresh_token=first["refresh_token"], auth=auth)


def test_a_used_refresh_token_sent_again_at_once_is_refused_and_the_family_kept(gateway, app_client):
    # Within the reuse interval: a duplicate of a concurrent refresh, not a replay.
    _, first = _session_with_password_token(gateway, app_client)
    rotated = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).json()

    duplicate = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    after_duplicate = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=rotated["refresh_token"]
    )

    assert duplicate.status_code == 401
    assert duplicate.json()["error"] == "invalid_grant"
    assert after_duplicate.status_code == 200


def test_replaying_a_used_refresh_token_revokes_the_whole_family(gateway, app_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "REFRESH_REUSE_INTERVAL": 1}
    _, first = _session_with_password_token(gateway, app_client)
    rotated = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    ).json()
    time.sleep(1.1)

    replay = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    after_replay = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=rotated["refresh_token"]
    )

    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_grant"
    assert after_replay.status_code == 401
    assert after_replay.json()["error"] == "invalid_grant"


def test_refresh_token_expires_after_the_clients_refresh_lifetime(gateway, app_client):
    app_client.refresh_token_lifetime = 1
    app_client.save()
    _, token = _session_with_password_token(gateway, app_client)
    assert token["refresh_token_expires_in"] == 1

    time.sleep(1.2)
    expired = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=token["refresh_token"]
    )

    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_grant"
