"""The code's exchange at ``POST /oauth2/token``: PKCE, single use, replay revocation, public clients, sessions."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
import responses
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.credentials import token_checksum
from oauthgw.issuing.resource_owners import resource_owner_block
from oauthgw.models import AuditEvent, AuthorizationCode, ResourceOwner, UpstreamSession
from tests.oauthgw.code_flow import authorize, callback_parameters, code_client, exchange, sign_in_for_code
from tests.oauthgw.conftest import FORM, PASSWORD, TOKEN_URL, USERNAME, basic_authorization

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def hello(client, access_token: str) -> int:
    return client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code


def refresh(client, app, refresh_token: str):
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    headers = {}
    if app.is_public:
        form["client_id"] = app.client_id
    else:
        headers["HTTP_AUTHORIZATION"] = basic_authorization(app.client_id, app.raw_secret)
    return client.post(TOKEN_URL, urlencode(form), content_type=FORM, **headers)


@pytest.mark.parametrize("public", [False, True])
def test_a_code_and_its_verifier_give_the_same_tokens_as_a_password_login(client, upstream, public):
    app = code_client(client_type="public" if public else "confidential")
    authorization, parameters = sign_in_for_code(client, upstream, app)

    response = exchange(client, authorization, parameters["code"])

    assert response.status_code == 200, response.content
    tokens = response.json()
    assert set(tokens) == {
        "access_token",
        "expires_in",
        "token_type",
        "scope",
        "refresh_token",
        "refresh_token_expires_in",
    }
    assert response["Cache-Control"] == "no-store"
    assert hello(client, tokens["access_token"]) == 200
    assert client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()["username"] == (
        USERNAME
    )
    assert refresh(client, app, tokens["refresh_token"]).status_code == 200


def test_the_code_is_stored_only_as_its_checksum(client, upstream):
    app = code_client()
    _, parameters = sign_in_for_code(client, upstream, app)

    row = AuthorizationCode.objects.get()

    assert row.code == token_checksum(parameters["code"])
    assert row.expires - row.created <= timedelta(seconds=60)


def test_a_wrong_verifier_is_refused_and_does_not_use_the_code_up(client, upstream):
    app = code_client()
    authorization, parameters = sign_in_for_code(client, upstream, app)

    wrong = exchange(client, authorization, parameters["code"], verifier="x" * 64)
    right = exchange(client, authorization, parameters["code"])

    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_grant"
    assert right.status_code == 200, right.content


def test_a_missing_verifier_is_invalid_request(client, upstream):
    app = code_client()
    authorization, parameters = sign_in_for_code(client, upstream, app)

    response = exchange(client, authorization, parameters["code"], verifier="", code_verifier=None)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_another_redirect_uri_at_the_exchange_is_refused(client, upstream):
    app = code_client(redirect_uris="https://app.example/callback https://app.example/other")
    authorization, parameters = sign_in_for_code(client, upstream, app)

    response = exchange(client, authorization, parameters["code"], redirect_uri="https://app.example/other")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert exchange(client, authorization, parameters["code"]).status_code == 200


def test_a_reused_code_is_refused_and_revokes_everything_its_first_exchange_issued(client, upstream):
    app = code_client()
    authorization, parameters = sign_in_for_code(client, upstream, app)
    first = exchange(client, authorization, parameters["code"]).json()
    rotated = refresh(client, app, first["refresh_token"]).json()

    replay = exchange(client, authorization, parameters["code"])

    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_grant"
    assert hello(client, rotated["access_token"]) == 401
    assert refresh(client, app, rotated["refresh_token"]).status_code == 401
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert not UpstreamSession.objects.exists()
    assert AuditEvent.objects.filter(outcome="code_reused").count() == 1


def test_a_reused_code_of_a_client_without_refresh_tokens_revokes_its_access_token(client, upstream):
    app = code_client(grant_types="authorization_code")
    authorization, parameters = sign_in_for_code(client, upstream, app)
    first = exchange(client, authorization, parameters["code"]).json()
    assert "refresh_token" not in first

    exchange(client, authorization, parameters["code"])

    assert hello(client, first["access_token"]) == 401
    assert not AccessToken.objects.exists()


def test_a_code_is_good_for_another_client_never(client, upstream):
    app, other = code_client(), code_client()
    authorization, parameters = sign_in_for_code(client, upstream, app)
    authorization.app = other

    response = exchange(client, authorization, parameters["code"])

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"


def test_an_expired_code_is_refused(client, upstream):
    app = code_client()
    authorization, parameters = sign_in_for_code(client, upstream, app)
    AuthorizationCode.objects.update(expires=timezone.now() - timedelta(seconds=1))

    response = exchange(client, authorization, parameters["code"])

    assert response.json()["error"] == "invalid_grant"


def test_an_owner_blocked_after_signing_in_gets_no_tokens_for_the_code(client, upstream):
    app = code_client()
    authorization, parameters = sign_in_for_code(client, upstream, app)
    resource_owner_block(owner=ResourceOwner.objects.get())

    response = exchange(client, authorization, parameters["code"])

    assert response.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(outcome="owner_blocked").count() == 1


def test_a_client_disabled_after_the_login_gets_invalid_client(client, upstream):
    app = code_client()
    authorization, parameters = sign_in_for_code(client, upstream, app)
    app.enabled = False
    app.save()

    response = exchange(client, authorization, parameters["code"])

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# --- Public and confidential clients ---------------------------------------------------------------


def test_a_public_client_presenting_a_secret_is_refused(client, upstream):
    app = code_client(client_type="public")
    authorization, parameters = sign_in_for_code(client, upstream, app)
    form = {
        "grant_type": "authorization_code",
        "code": parameters["code"],
        "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier,
    }

    response = client.post(
        TOKEN_URL, urlencode(form), content_type=FORM, HTTP_AUTHORIZATION=basic_authorization(app.client_id, "")
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_confidential_client_must_authenticate_to_exchange(client, upstream):
    app = code_client()
    authorization, parameters = sign_in_for_code(client, upstream, app)
    form = {
        "grant_type": "authorization_code",
        "code": parameters["code"],
        "client_id": app.client_id,
        "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier,
    }

    response = client.post(TOKEN_URL, urlencode(form), content_type=FORM)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["password", "client_credentials"])
def test_a_public_client_cannot_use_other_grants_even_if_its_row_says_so(client, upstream, grant_type):
    app = code_client(client_type="public")
    # Past the model's own check, as a raw SQL update would be.
    type(app).objects.filter(pk=app.pk).update(grant_types=f"authorization_code refresh_token {grant_type}")
    upstream.accepts()
    form = {"grant_type": grant_type, "client_id": app.client_id, "username": USERNAME, "password": PASSWORD}

    response = client.post(TOKEN_URL, urlencode(form), content_type=FORM)

    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("unauthorized_client", "invalid_client")
    assert upstream.calls == []


# --- Sessions: the upstream's refresh token goes to the first family only ----------------------------


def test_two_clients_of_one_login_get_two_families_and_only_the_first_takes_the_upstream_refresh_token(
    client, upstream, settings
):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_REVERIFY": "always"}
    app, second = code_client(), code_client()
    upstream.mock.add(
        responses.POST,
        upstream.url,
        json={"access_token": "u", "token_type": "bearer", "refresh_token": "upstream-refresh", "expires_in": 300},
    )
    authorization, parameters = sign_in_for_code(client, upstream, app)
    first = exchange(client, authorization, parameters["code"]).json()
    second_authorization, answered = authorize(client, second)
    second_tokens = exchange(client, second_authorization, callback_parameters(answered)["code"]).json()

    sessions = {session.client_id: session for session in UpstreamSession.objects.all()}
    assert sessions[app.pk].refresh_token == "upstream-refresh"
    assert sessions[second.pk].refresh_token == ""
    assert sessions[second.pk].upstream_expires is not None
    # The first family's refresh asks the upstream with the kept token, as a password login's does.
    upstream.mock.add(responses.POST, upstream.url, json={"access_token": "u2", "token_type": "bearer"})
    assert refresh(client, app, first["refresh_token"]).status_code == 200
    body = upstream.calls[-1].request.body
    assert "refresh_token=upstream-refresh" in (body if isinstance(body, str) else body.decode())
    assert second_tokens["refresh_token_expires_in"] <= 300


def test_a_jwt_client_gets_a_jwt_access_token_from_a_code(client, upstream):
    app = code_client(token_format="jwt")
    authorization, parameters = sign_in_for_code(client, upstream, app)

    tokens = exchange(client, authorization, parameters["code"]).json()

    assert tokens["access_token"].count(".") == 2
    assert tokens["expires_in"] == 300
    assert hello(client, tokens["access_token"]) == 200
