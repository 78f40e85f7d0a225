"""The password and refresh flow with Glewlwyd, a real OAuth 2.0 server, as the upstream."""

import pytest
import requests

from tests.e2e.conftest import ODD_PASSWORD, ODD_USER, PASSWORD, USER, Gateway

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["oidc", "legacy"])
def glewlwyd_gateway(request, glewlwyd, live_server, settings):
    url = glewlwyd.token_url if request.param == "oidc" else glewlwyd.legacy_token_url
    settings.OAUTHGW = {
        "UPSTREAM_TOKEN_URL": url,
        "UPSTREAM_CLIENT_ID": glewlwyd.client_id,
        "UPSTREAM_CLIENT_SECRET": glewlwyd.client_secret,
        "UPSTREAM_SCOPE": glewlwyd.scope,
        "UPSTREAM_TIMEOUT": 5.0,
    }
    return Gateway(live_server.url)


def _password(gateway, app_client, username, password):
    return gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="password", username=username, password=password
    )


def test_password_then_refresh_against_glewlwyd(glewlwyd_gateway, app_client):
    first = _password(glewlwyd_gateway, app_client, USER, PASSWORD)
    assert first.status_code == 200, first.text
    pair = first.json()

    refreshed = glewlwyd_gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=pair["refresh_token"]
    )

    assert refreshed.status_code == 200, refreshed.text
    hello = requests.get(
        glewlwyd_gateway.hello_url,
        headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
        timeout=10,
    )
    assert hello.json()["username"] == USER
    assert (
        requests.get(
            glewlwyd_gateway.hello_url, headers={"Authorization": f"Bearer {pair['access_token']}"}, timeout=10
        ).status_code
        == 401
    )


def test_glewlwyd_403_for_a_wrong_password_becomes_401_invalid_grant(glewlwyd_gateway, app_client):
    response = _password(glewlwyd_gateway, app_client, USER, "not-the-password")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"


def test_unknown_user_at_glewlwyd_is_401_invalid_grant(glewlwyd_gateway, app_client):
    response = _password(glewlwyd_gateway, app_client, "nobody-here", PASSWORD)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"


def test_reserved_and_non_ascii_characters_reach_glewlwyd_intact(glewlwyd_gateway, app_client):
    response = _password(glewlwyd_gateway, app_client, ODD_USER, ODD_PASSWORD)

    assert response.status_code == 200, response.text
