"""``GET /.well-known/oauth-authorization-server`` (RFC 8414)."""

import jwt
import pytest
from django.test import Client


def test_metadata_lists_exactly_the_grants_served(client):
    response = client.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    assert response.json()["grant_types_supported"] == ["password", "refresh_token", "client_credentials"]


def test_metadata_answers_head(client):
    assert client.head("/.well-known/oauth-authorization-server").status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_metadata_refuses_writes_with_a_json_405(method):
    # A real client has no CSRF cookie: the refusal is the method, not CSRF, and never an HTML page.
    response = getattr(Client(enforce_csrf_checks=True), method)("/.well-known/oauth-authorization-server")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"
    assert {"GET", "HEAD"} <= set(response["Allow"].replace(" ", "").split(","))


def test_metadata_claims_no_authorization_endpoint_capability(client):
    document = client.get("/.well-known/oauth-authorization-server").json()

    assert "authorization_endpoint" not in document
    assert "authorization_response_iss_parameter_supported" not in document
    assert document["response_types_supported"] == []


def test_with_a_configured_issuer_nothing_follows_the_host_header(client, post_token, make_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "ISSUER": "https://auth.example.com"}
    app = make_client(token_format="jwt", grant_types="client_credentials")

    document = client.get("/.well-known/oauth-authorization-server", HTTP_HOST="localhost").json()
    token = post_token({"grant_type": "client_credentials"}, app=app, HTTP_HOST="localhost").json()["access_token"]

    assert document["issuer"] == "https://auth.example.com"
    assert document["token_endpoint"] == "https://auth.example.com/oauth2/token"
    assert document["jwks_uri"] == "https://auth.example.com/.well-known/jwks.json"
    assert {url.split("/oauth2/")[0] for key, url in document.items() if key.endswith("_endpoint")} == {
        "https://auth.example.com"
    }
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "https://auth.example.com"
