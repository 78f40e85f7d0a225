"""``GET /helloworld/``: a resource server that knows tokens only through the toolkit (RFC 6750)."""

import base64
import secrets
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from oauthgw.dpop.keys import signing_algorithms
from oauthgw.issuing.resource_owners import resource_owner_upsert

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
URL = "/helloworld/"
# RFC 9449 section 7.2: the DPoP challenge every 401 carries beside the Bearer one, naming the proof algorithms.
DPOP_CHALLENGE = f'DPoP algs="{" ".join(signing_algorithms())}"'


def issue_token(app, *, subject: str | None = "alice", scope: str = "hello", expires_in: int = 3600) -> str:
    """Store an access token as the token endpoint would and return the raw value."""
    raw = secrets.token_urlsafe(32)
    user = resource_owner_upsert(authorization_server="default", subject=subject) if subject else None
    AccessToken.objects.create(
        user=user, application=app, token=raw, scope=scope, expires=timezone.now() + timedelta(seconds=expires_in)
    )
    return raw


def call(client, token: str | None = None, **extra):
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.get(URL, **extra)


def assert_invalid_token(response) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="api"')
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert response.json()["error"] == "invalid_token"


def test_valid_token_gets_message_username_and_client_id(client, make_client):
    app = make_client()

    response = call(client, issue_token(app, subject="alice"))

    assert response.status_code == 200
    body = response.json()
    assert body["message"]
    assert body["username"] == "alice"
    assert body["client_id"] == app.client_id


def test_client_credentials_token_has_null_username(client, make_client):
    app = make_client(grant_types="client_credentials")

    response = call(client, issue_token(app, subject=None))

    assert response.status_code == 200
    assert response.json()["username"] is None
    assert response.json()["client_id"] == app.client_id


def test_no_token_is_401_with_bare_bearer_and_dpop_challenges(client):
    response = call(client)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == f'Bearer realm="api", {DPOP_CHALLENGE}'
    assert "error=" not in response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Bearer a b", "Bearer tok\u00e9n", "Bearer ab=cd", "bearer two tokens"],
)
def test_a_malformed_bearer_header_is_400_invalid_request(client, authorization):
    response = client.get(URL, HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response["WWW-Authenticate"] == f'Bearer realm="api", error="invalid_request", {DPOP_CHALLENGE}'


def test_unknown_token_is_invalid_token(client):
    assert_invalid_token(call(client, "not-a-token-the-gateway-issued"))


def test_expired_token_is_invalid_token(client, make_client):
    token = issue_token(make_client(), expires_in=-1)

    assert_invalid_token(call(client, token))


def test_token_is_refused_once_it_expires_after_being_used(client, make_client):
    token = issue_token(make_client(), expires_in=60)
    assert call(client, token).status_code == 200

    later = timezone.now() + timedelta(seconds=61)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = call(client, token)

    assert_invalid_token(response)


def test_revoked_token_is_invalid_token(client, make_client):
    token = issue_token(make_client())
    assert call(client, token).status_code == 200

    AccessToken.objects.get().revoke()

    assert_invalid_token(call(client, token))


def test_token_without_the_hello_scope_is_insufficient_scope(client, make_client):
    token = issue_token(make_client(), scope="other")

    response = call(client, token)

    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="hello"' in challenge


def test_token_of_a_client_disabled_afterwards_is_refused(client, make_client):
    app = make_client()
    token = issue_token(app)
    assert call(client, token).status_code == 200

    app.enabled = False
    app.save()

    response = call(client, token)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="api"')


def assert_invalid_request(response, description: str) -> None:
    assert response.status_code == 400
    assert response["WWW-Authenticate"] == f'Bearer realm="api", error="invalid_request", {DPOP_CHALLENGE}'
    assert response.json() == {"error": "invalid_request", "error_description": description}


ONE_WAY_ONLY = "Send the access token one way only: in the Authorization header."
NOT_IN_THE_URL = "Access tokens are not accepted in the URL; send it in the Authorization header."


def test_a_token_in_the_header_and_the_query_string_is_invalid_request(client, make_client):
    # RFC 6750 section 2: one method only, even when both carry the same valid token.
    token = issue_token(make_client())

    assert_invalid_request(
        client.get(f"{URL}?access_token={token}", HTTP_AUTHORIZATION=f"Bearer {token}"), ONE_WAY_ONLY
    )


def test_a_token_in_the_header_and_a_form_field_is_invalid_request(client, make_client):
    token = issue_token(make_client())

    response = client.post(
        URL,
        f"access_token={token}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert_invalid_request(response, ONE_WAY_ONLY)


def test_a_token_in_the_query_string_alone_is_invalid_request(client, make_client):
    # RFC 9700 section 4.3.2, the toolkit's COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT (on in the settings).
    token = issue_token(make_client())

    assert_invalid_request(client.get(URL, {"access_token": token}), NOT_IN_THE_URL)


def test_without_the_transport_setting_a_query_token_alone_is_read_as_the_toolkit_reads_it(
    client, make_client, settings
):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": False}
    token = issue_token(make_client())

    with pytest.warns(DeprecationWarning):
        alone = client.get(URL, {"access_token": token})
    both = client.get(URL, {"access_token": token}, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert alone.status_code == 200
    assert_invalid_request(both, ONE_WAY_ONLY)


def test_token_from_the_token_endpoint_works(client, make_client):
    # The whole path once: client_credentials needs no upstream.
    app = make_client(grant_types="client_credentials")
    issued = client.post(
        "/oauth2/token",
        "grant_type=client_credentials",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{app.client_id}:{app.raw_secret}".encode()).decode(),
        content_type="application/x-www-form-urlencoded",
    ).json()

    response = call(client, issued["access_token"])

    assert response.status_code == 200
    assert response.json()["client_id"] == app.client_id


def test_a_token_restricted_to_another_resource_is_invalid_token(client, make_client):
    # RFC 8707: a token issued for another API's audience opens nothing here.
    app = make_client()
    raw = issue_token(app)
    AccessToken.objects.filter(application=app).update(resource=["https://other-api.example/"])

    assert_invalid_token(call(client, raw))


def test_a_token_restricted_to_this_resource_is_accepted(client, make_client):
    app = make_client()
    raw = issue_token(app)
    AccessToken.objects.filter(application=app).update(resource=["http://testserver/helloworld/"])

    assert call(client, raw).status_code == 200
