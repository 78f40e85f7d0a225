"""``GET /.well-known/oauth-authorization-server`` (RFC 8414)."""

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
