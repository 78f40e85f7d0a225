"""JWT access tokens (RFC 9068) as a client and an API see them: header, claims, audience, lifetime, refresh."""

import jwt
import pytest
from django.conf import settings
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.credentials import token_checksum
from oauthgw.models import SigningKey
from tests.oauthgw.conftest import PASSWORD, USERNAME
from tests.oauthgw.jwt_helpers import published_jwks, verified_claims

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


@pytest.fixture
def jwt_client(make_client):
    return make_client(token_format="jwt")


def client_credentials(post_token, app, **form):
    return post_token({"grant_type": "client_credentials", **form}, app=app)


def test_a_jwt_client_gets_an_at_jwt_signed_es256_with_a_published_kid(client, post_token, jwt_client):
    token = client_credentials(post_token, jwt_client).json()["access_token"]

    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"] in {key.key_id for key in published_jwks(client).keys}


def test_client_credentials_claims_name_the_client_as_subject(client, post_token, jwt_client):
    body = client_credentials(post_token, jwt_client).json()

    claims = verified_claims(client, body["access_token"])

    assert claims["iss"] == "http://testserver"
    assert claims["aud"] == settings.HELLOWORLD_AUDIENCE == "helloworld"  # the API this project serves
    assert claims["sub"] == claims["client_id"] == jwt_client.client_id
    assert claims["scope"] == "hello"
    assert claims["exp"] - claims["iat"] == body["expires_in"] == 300
    assert len(claims["jti"]) >= 22


def test_password_grant_subject_is_the_owner_the_upstream_vouched_for(client, post_token, upstream, jwt_client):
    upstream.answers(200, json={"access_token": "u", "token_type": "bearer", "sub": "user-8f2a"})

    response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=jwt_client)

    assert verified_claims(client, response.json()["access_token"])["sub"] == "user-8f2a"


def test_every_token_has_its_own_jti(client, post_token, jwt_client):
    tokens = [client_credentials(post_token, jwt_client).json()["access_token"] for _ in range(3)]

    assert len({verified_claims(client, token)["jti"] for token in tokens}) == 3


def test_the_token_is_stored_only_as_its_checksum(post_token, jwt_client):
    token = client_credentials(post_token, jwt_client).json()["access_token"]

    row = AccessToken.objects.get(token_checksum=token_checksum(token))
    assert row.token == ""


def test_an_opaque_client_still_gets_an_opaque_token(post_token, make_client):
    token = client_credentials(post_token, make_client()).json()["access_token"]

    assert "." not in token
    assert not SigningKey.objects.exists()


def test_a_clients_own_lifetime_beats_the_jwt_default(client, post_token, make_client):
    app = make_client(token_format="jwt", access_token_lifetime=120)

    body = client_credentials(post_token, app).json()

    assert body["expires_in"] == 120
    claims = verified_claims(client, body["access_token"])
    assert claims["exp"] - claims["iat"] == 120


def test_the_jwt_default_lifetime_is_a_setting(post_token, jwt_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "JWT_ACCESS_TOKEN_SECONDS": 90}

    assert client_credentials(post_token, jwt_client).json()["expires_in"] == 90


def test_a_configured_issuer_is_the_iss_and_the_metadata_issuer(client, post_token, jwt_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "ISSUER": "https://auth.example.com"}

    token = client_credentials(post_token, jwt_client).json()["access_token"]

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "https://auth.example.com"
    assert client.get("/.well-known/oauth-authorization-server").json()["issuer"] == "https://auth.example.com"
    # The gateway's own API accepts it: its iss is the configured one.
    assert client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


# --- Audience ---------------------------------------------------------------------------


def test_the_clients_audiences_are_the_aud(client, post_token, make_client):
    app = make_client(token_format="jwt", audience="https://orders.example https://stock.example")

    token = client_credentials(post_token, app).json()["access_token"]

    claims = verified_claims(client, token, audience="https://stock.example")
    assert claims["aud"] == ["https://orders.example", "https://stock.example"]


def test_the_gateway_default_audience_is_a_setting(client, post_token, jwt_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "JWT_AUDIENCE": "https://api.example.com"}

    token = client_credentials(post_token, jwt_client).json()["access_token"]

    assert verified_claims(client, token, audience="https://api.example.com")["aud"] == "https://api.example.com"


def test_the_default_audience_setting_may_separate_its_values_with_commas(client, post_token, jwt_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "JWT_AUDIENCE": "https://api.example.com, https://stock.example"}

    token = client_credentials(post_token, jwt_client).json()["access_token"]

    claims = verified_claims(client, token, audience="https://stock.example")
    assert claims["aud"] == ["https://api.example.com", "https://stock.example"]


def test_without_a_default_audience_the_aud_is_the_issuer(client, post_token, jwt_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "JWT_AUDIENCE": ""}

    token = client_credentials(post_token, jwt_client).json()["access_token"]

    assert verified_claims(client, token, audience="http://testserver")["aud"] == "http://testserver"


def test_a_resource_parameter_narrows_the_audience_to_it(client, post_token, make_client):
    app = make_client(token_format="jwt", audience="https://orders.example https://stock.example")

    token = client_credentials(post_token, app, resource="https://orders.example").json()["access_token"]

    assert verified_claims(client, token, audience="https://orders.example")["aud"] == "https://orders.example"


def test_a_resource_outside_the_clients_audiences_is_invalid_target(post_token, make_client):
    app = make_client(token_format="jwt", audience="https://orders.example")

    response = client_credentials(post_token, app, resource="https://payroll.example")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert not AccessToken.objects.exists()


def test_a_resource_not_allowed_is_refused_before_the_password_reaches_the_upstream(post_token, upstream, make_client):
    app = make_client(token_format="jwt", audience="https://orders.example")
    upstream.accepts()

    response = post_token(
        {"grant_type": "password", "username": USERNAME, "password": PASSWORD, "resource": "https://payroll.example"},
        app=app,
    )

    assert response.json()["error"] == "invalid_target"
    assert upstream.calls == []


# --- Refresh ----------------------------------------------------------------------------


def test_refresh_gives_a_new_jwt_and_a_new_opaque_refresh_token(client, post_token, password_login, jwt_client):
    first = password_login(jwt_client)

    second = post_token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, app=jwt_client)

    body = second.json()
    assert second.status_code == 200, body
    assert "." not in body["refresh_token"]
    claims = verified_claims(client, body["access_token"])
    assert claims["sub"] == "alice"
    assert claims["jti"] != verified_claims(client, first["access_token"])["jti"]


def test_refresh_keeps_the_resource_the_pair_was_issued_for(client, post_token, password_login, make_client):
    app = make_client(token_format="jwt", audience="https://orders.example https://stock.example")
    first = password_login(app, resource="https://stock.example")

    body = post_token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, app=app).json()

    assert (
        verified_claims(client, body["access_token"], audience="https://stock.example")["aud"]
        == "https://stock.example"
    )


def test_replaying_a_rotated_refresh_token_still_revokes_the_family(
    client, post_token, password_login, jwt_client, settings
):
    settings.OAUTHGW = {**settings.OAUTHGW, "REFRESH_REUSE_INTERVAL": 0}
    first = password_login(jwt_client)
    second = post_token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, app=jwt_client).json()

    replay = post_token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, app=jwt_client)

    assert replay.json()["error"] == "invalid_grant"
    hello = client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {second['access_token']}")
    assert hello.status_code == 401
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
