"""``GET /.well-known/jwks.json``: the public keys, cacheable for less than a key waits before it signs."""

import re

import pytest
from django.test import Client

from oauthgw.models import SigningKey

pytestmark = pytest.mark.django_db

URL = "/.well-known/jwks.json"


def test_a_fresh_installation_publishes_its_first_key_before_any_token(client):
    response = client.get(URL)

    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kid"] == SigningKey.objects.get().kid
    assert {key["kty"], key["crv"], key["alg"], key["use"]} == {"EC", "P-256", "ES256", "sig"}
    assert "d" not in key


def test_it_may_be_cached_for_less_than_the_delay_before_a_new_key_signs(client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "JWKS_MAX_AGE": 120, "SIGNING_KEY_PUBLISH_SECONDS": 900}

    response = client.get(URL)

    assert response["Cache-Control"] == "public, max-age=120"
    assert response["Access-Control-Allow-Origin"] == "*"


def test_the_default_max_age_is_below_the_default_publishing_delay(client):
    max_age = int(re.fullmatch(r"public, max-age=(\d+)", client.get(URL)["Cache-Control"]).group(1))

    assert 0 < max_age < 3600


def test_it_answers_head(client):
    assert client.head(URL).status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_refuses_writes_with_a_json_405(method):
    response = getattr(Client(enforce_csrf_checks=True), method)(URL)

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_the_metadata_names_it_as_jwks_uri_and_lists_the_signing_algorithms(client):
    document = client.get("/.well-known/oauth-authorization-server").json()

    assert document["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    assert document["access_token_signing_alg_values_supported"] == ["ES256", "RS256"]
