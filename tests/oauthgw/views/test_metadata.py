"""``GET /.well-known/oauth-authorization-server`` (RFC 8414)."""

import jwt
import pytest
from django.test import Client


def test_metadata_lists_exactly_the_grants_served(client):
    response = client.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    assert response.json()["grant_types_supported"] == [
        "authorization_code",
        "password",
        "refresh_token",
        "client_credentials",
    ]


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


def test_metadata_describes_the_authorization_code_flow_as_served(client):
    document = client.get("/.well-known/oauth-authorization-server").json()

    assert document["authorization_endpoint"] == "http://testserver/oauth2/authorize"
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_response_iss_parameter_supported"] is True


def test_metadata_names_no_secret_as_a_client_authentication_only_where_public_clients_may_call(client):
    document = client.get("/.well-known/oauth-authorization-server").json()

    assert document["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none"]
    assert "none" in document["revocation_endpoint_auth_methods_supported"]
    assert "none" not in document["introspection_endpoint_auth_methods_supported"]


def test_the_authorization_responses_iss_is_the_metadatas_issuer(client, settings, make_client):
    # RFC 9207 section 2.4: a client compares the two; OAUTHGW_ISSUER sets both.
    settings.OAUTHGW = {**settings.OAUTHGW, "ISSUER": "https://login.example"}
    document = client.get("/.well-known/oauth-authorization-server").json()

    assert document["issuer"] == "https://login.example"
    app = make_client(grant_types="authorization_code", redirect_uris="https://app.example/cb")
    response = client.get(
        "/oauth2/authorize",
        {"response_type": "code", "client_id": app.client_id, "code_challenge": "x" * 43, "prompt": "none"},
    )
    assert response.status_code == 302
    assert "iss=https%3A%2F%2Flogin.example" in response["Location"]


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
