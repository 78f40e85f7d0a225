"""``GET /helloworld/`` with JWT access tokens: verified locally, and the gateway's revocations still count."""

from datetime import timedelta
from unittest import mock
from urllib.parse import urlencode

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from oauthgw.models import SigningKey
from tests.helloworld.test_api import assert_invalid_token, call
from tests.oauthgw.conftest import FORM, basic_authorization
from tests.oauthgw.jwt_helpers import reassembled, segments

pytestmark = pytest.mark.django_db


@pytest.fixture
def jwt_client(make_client):
    return make_client(token_format="jwt")


@pytest.fixture
def token(post_token, jwt_client) -> str:
    return post_token({"grant_type": "client_credentials"}, app=jwt_client).json()["access_token"]


def test_a_jwt_from_the_token_endpoint_works(client, jwt_client, token):
    response = call(client, token)

    assert response.status_code == 200, response.content
    assert response.json()["client_id"] == jwt_client.client_id


def test_a_password_grant_jwt_names_its_resource_owner(client, password_login, jwt_client):
    response = call(client, password_login(jwt_client)["access_token"])

    assert response.json()["username"] == "alice"


def test_an_opaque_token_still_works_beside_it(client, post_token, make_client, token):
    opaque = post_token({"grant_type": "client_credentials"}, app=make_client()).json()["access_token"]

    assert (call(client, token).status_code, call(client, opaque).status_code) == (200, 200)


def test_a_tampered_payload_is_invalid_token(client, token):
    header, payload, signature = segments(token)

    assert_invalid_token(call(client, reassembled(header, {**payload, "scope": "hello admin"}, signature)))


def test_alg_none_is_invalid_token(client, token):
    header, payload, _ = segments(token)

    assert_invalid_token(call(client, reassembled({**header, "alg": "none"}, payload, "")))


def test_a_token_signed_by_a_key_the_gateway_never_published_is_invalid_token(client, token):
    header, payload, _ = segments(token)
    stranger = ec.generate_private_key(ec.SECP256R1())

    forged = jwt.encode(payload, stranger, algorithm="ES256", headers={"typ": "at+jwt", "kid": "not-published"})
    same_kid = jwt.encode(payload, stranger, algorithm="ES256", headers={"typ": "at+jwt", "kid": header["kid"]})

    assert_invalid_token(call(client, forged))
    assert_invalid_token(call(client, same_kid))


def test_a_jwt_that_is_not_an_access_token_is_invalid_token(client, token):
    # An ID token or any other JWT signed with the same key must not open an API (RFC 9068 section 4).
    header, payload, _ = segments(token)
    signing_key = SigningKey.objects.get()
    other = jwt.encode(
        payload, signing_key.private_key, algorithm="ES256", headers={"typ": "JWT", "kid": header["kid"]}
    )

    assert_invalid_token(call(client, other))


def test_a_validly_signed_jwt_the_gateway_has_no_record_of_is_invalid_token(client, token):
    # Signed with the gateway's own key, but not issued (or since revoked): the row decides.
    header, payload, _ = segments(token)
    signing_key = SigningKey.objects.get()
    unrecorded = jwt.encode(
        {**payload, "jti": "made-up"},
        signing_key.private_key,
        algorithm="ES256",
        headers={"typ": "at+jwt", "kid": header["kid"]},
    )

    assert_invalid_token(call(client, unrecorded))


def test_an_expired_jwt_is_invalid_token_and_says_expired(client, token):
    later = timezone.now() + timedelta(seconds=301)

    with mock.patch("django.utils.timezone.now", return_value=later):
        response = call(client, token)

    assert_invalid_token(response)
    assert response.json()["error_description"] == "The access token has expired."


def test_a_jwt_revoked_at_the_revocation_endpoint_is_refused_at_once(client, jwt_client, token):
    assert call(client, token).status_code == 200

    revoked = client.post(
        "/oauth2/revoke",
        urlencode({"token": token}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_authorization(jwt_client.client_id, jwt_client.raw_secret),
    )

    assert revoked.status_code == 200
    assert_invalid_token(call(client, token))


def test_a_jwt_of_a_client_disabled_afterwards_is_refused_at_once(client, jwt_client, token):
    assert call(client, token).status_code == 200

    jwt_client.enabled = False
    jwt_client.save()

    assert_invalid_token(call(client, token))


def test_a_jwt_introspects_like_an_opaque_token_with_its_own_claims(client, make_client, jwt_client, token):
    resource_server = make_client(grant_types="client_credentials", can_introspect=True)

    def introspect():
        return client.post(
            "/oauth2/introspect",
            urlencode({"token": token}),
            content_type=FORM,
            HTTP_AUTHORIZATION=basic_authorization(resource_server.client_id, resource_server.raw_secret),
        ).json()

    claims = jwt.decode(token, options={"verify_signature": False})
    active = introspect()
    assert active["active"] is True
    assert active["client_id"] == jwt_client.client_id
    assert {name: active[name] for name in ("jti", "exp", "iat", "aud", "iss", "sub")} == {
        name: claims[name] for name in ("jti", "exp", "iat", "aud", "iss", "sub")
    }
    jwt_client.enabled = False
    jwt_client.save()
    assert introspect() == {"active": False}


def test_a_jwt_costs_the_api_no_more_queries_than_an_opaque_token(
    client, post_token, make_client, token, django_assert_max_num_queries
):
    opaque = post_token({"grant_type": "client_credentials"}, app=make_client()).json()["access_token"]
    call(client, token)  # the process's copy of the keys, read once
    with CaptureQueriesContext(connection) as opaque_queries:
        assert call(client, opaque).status_code == 200

    with django_assert_max_num_queries(len(opaque_queries)):
        assert call(client, token).status_code == 200


# --- Audience (RFC 9068 section 4) ------------------------------------------------------


def test_a_jwt_meant_for_another_api_is_invalid_token(client, post_token, make_client):
    payroll = make_client(token_format="jwt", audience="https://payroll.example")
    token = post_token({"grant_type": "client_credentials"}, app=payroll).json()["access_token"]

    response = call(client, token)

    assert_invalid_token(response)
    assert response.json()["error_description"] == "The access token is not meant for this API."


def test_a_jwt_naming_helloworld_among_other_apis_works(client, post_token, make_client, settings):
    app = make_client(token_format="jwt", audience=f"https://payroll.example {settings.HELLOWORLD_AUDIENCE}")
    token = post_token({"grant_type": "client_credentials"}, app=app).json()["access_token"]

    assert call(client, token).status_code == 200


def test_helloworld_answers_to_the_identifier_it_is_configured_with(client, token, settings):
    # The token was issued for the default identifier; the API now has another.
    settings.HELLOWORLD_AUDIENCE = "https://api.example.com/helloworld/"

    assert_invalid_token(call(client, token))


def test_a_jwt_for_the_issuer_opens_helloworld_only_while_it_is_named_among_more_audiences(
    client, post_token, make_client, settings
):
    # What the previous release issued by default: the issuer as the audience.
    app = make_client(token_format="jwt", audience="http://testserver")
    token = post_token({"grant_type": "client_credentials"}, app=app).json()["access_token"]
    assert_invalid_token(call(client, token))

    settings.HELLOWORLD_MORE_AUDIENCES = ["http://testserver"]

    assert call(client, token).status_code == 200


def test_an_api_that_declares_no_audience_refuses_every_jwt_and_still_takes_opaque_tokens(
    post_token, make_client, token, caplog
):
    class Undeclared(APIView):
        required_scopes = ["hello"]

        def get(self, request):
            return Response({"ok": True})

    opaque = post_token({"grant_type": "client_credentials"}, app=make_client()).json()["access_token"]
    factory = APIRequestFactory()

    refused = Undeclared.as_view()(factory.get("/other/", HTTP_AUTHORIZATION=f"Bearer {token}"))
    accepted = Undeclared.as_view()(factory.get("/other/", HTTP_AUTHORIZATION=f"Bearer {opaque}"))

    assert refused.status_code == 401
    assert refused.data["error_description"] == "The access token is not meant for this API."
    assert accepted.status_code == 200
    assert "Undeclared declares no token_audience" in caplog.text
