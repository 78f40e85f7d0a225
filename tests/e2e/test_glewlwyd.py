"""The password and refresh flows with Glewlwyd, a real OAuth 2.0 server, as the upstream."""

import uuid

import pytest
import requests

from oauthgw.models import UpstreamSession
from tests.e2e.conftest import ODD_PASSWORD, ODD_USER, PASSWORD, USER, Gateway, running_glewlwyd
from tests.support.glewlwyd import GlewlwydAccounts

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


# --- Sessions re-verified at Glewlwyd (UPSTREAM_REVERIFY=always) ------------------------------
# What Glewlwyd honours, observed and recorded in scripts/glewlwyd/README.md: a user's
# refresh tokens disabled through its profile API, or the user deleted, make it refuse
# a refresh (400); a user merely disabled keeps refreshing.


@pytest.fixture
def reverifying(glewlwyd_gateway, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_REVERIFY": "always"}
    return glewlwyd_gateway


@pytest.fixture
def accounts(glewlwyd):
    return GlewlwydAccounts(glewlwyd.base_url, glewlwyd.scope)


@pytest.fixture
def fresh_user(accounts):
    """A Glewlwyd user of this test's own: what a test does to it touches no other test."""
    username = f"user-{uuid.uuid4().hex[:10]}"
    accounts.create_user(username, PASSWORD)
    return username


def _refresh(gateway, app_client, pair):
    return gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=pair["refresh_token"]
    )


def _hello(gateway, pair) -> int:
    return requests.get(
        gateway.hello_url, headers={"Authorization": f"Bearer {pair['access_token']}"}, timeout=10
    ).status_code


def _plugin(request) -> str:
    return "oidc" if request.node.callspec.params["glewlwyd_gateway"] == "oidc" else "glwd"


def test_refresh_tokens_the_user_revoked_at_glewlwyd_end_the_gateway_session(
    reverifying, app_client, accounts, fresh_user, request
):
    pair = _password(reverifying, app_client, fresh_user, PASSWORD).json()
    pair = _refresh(reverifying, app_client, pair).json()
    assert _hello(reverifying, pair) == 200

    assert accounts.revoke_own_refresh_tokens(fresh_user, PASSWORD, plugin=_plugin(request)) >= 1
    refused = _refresh(reverifying, app_client, pair)

    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_grant"
    assert _hello(reverifying, pair) == 401
    assert UpstreamSession.objects.filter(user__resource_owner__username=fresh_user).count() == 0


def test_a_user_deleted_at_glewlwyd_loses_the_gateway_session(reverifying, app_client, accounts, fresh_user):
    pair = _password(reverifying, app_client, fresh_user, PASSWORD).json()

    accounts.delete_user(fresh_user)
    refused = _refresh(reverifying, app_client, pair)

    assert refused.status_code == 401
    assert _hello(reverifying, pair) == 401


def test_a_user_merely_disabled_at_glewlwyd_keeps_refreshing_because_glewlwyd_still_vouches(
    reverifying, app_client, accounts, fresh_user
):
    pair = _password(reverifying, app_client, fresh_user, PASSWORD).json()

    accounts.set_enabled(fresh_user, PASSWORD, enabled=False)
    refreshed = _refresh(reverifying, app_client, pair)
    login = _password(reverifying, app_client, fresh_user, PASSWORD)

    assert refreshed.status_code == 200, refreshed.text
    assert login.status_code == 401


@pytest.fixture(scope="module")
def rotating_glewlwyd(tmp_path_factory):
    with running_glewlwyd(tmp_path_factory.mktemp("glewlwyd-rotating"), UPSTREAM_REFRESH_ONE_USE="always") as server:
        yield server


def test_glewlwyds_rotated_refresh_tokens_replace_the_kept_one_at_every_refresh(
    rotating_glewlwyd, live_server, settings, app_client
):
    # Glewlwyd then refuses a used refresh token and ends its chain: a gateway that sent
    # the kept token twice would lose the session at the second refresh.
    settings.OAUTHGW = {
        "UPSTREAM_TOKEN_URL": rotating_glewlwyd.token_url,
        "UPSTREAM_CLIENT_ID": rotating_glewlwyd.client_id,
        "UPSTREAM_CLIENT_SECRET": rotating_glewlwyd.client_secret,
        "UPSTREAM_SCOPE": rotating_glewlwyd.scope,
        "UPSTREAM_TIMEOUT": 5.0,
        "UPSTREAM_REVERIFY": "always",
    }
    gateway = Gateway(live_server.url)
    pair = _password(gateway, app_client, USER, PASSWORD).json()
    kept = [UpstreamSession.objects.get().refresh_token]

    for _ in range(3):
        answer = _refresh(gateway, app_client, pair)
        assert answer.status_code == 200, answer.text
        pair = answer.json()
        kept.append(UpstreamSession.objects.get().refresh_token)

    assert len(set(kept)) == 4
