"""CORS at the token and revocation endpoints: registered origins of the client only."""

from urllib.parse import urlencode

import pytest

from tests.oauthgw.code_flow import code_client
from tests.oauthgw.conftest import FORM, TOKEN_URL

pytestmark = pytest.mark.django_db

ORIGIN = "https://spa.example"


@pytest.fixture
def spa():
    return code_client(client_type="public", allowed_origins=ORIGIN)


def test_a_preflight_from_a_registered_origin_is_allowed(client, spa):
    response = client.options(TOKEN_URL, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Origin" in response["Vary"]


@pytest.mark.parametrize("path", [TOKEN_URL, "/oauth2/revoke"])
def test_an_origin_no_client_registered_gets_no_cors_header(client, spa, path):
    preflight = client.options(path, HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    request = client.post(
        path,
        urlencode({"client_id": spa.client_id, "token": "x"}),
        content_type=FORM,
        HTTP_ORIGIN="https://evil.example",
    )

    assert "Access-Control-Allow-Origin" not in preflight
    assert "Access-Control-Allow-Origin" not in request


def test_an_error_for_the_clients_own_origin_is_readable_by_its_page(client, spa):
    form = {"grant_type": "authorization_code", "client_id": spa.client_id, "code": "nope", "code_verifier": "x" * 43}

    response = client.post(TOKEN_URL, urlencode(form), content_type=FORM, HTTP_ORIGIN=ORIGIN)

    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_another_clients_origin_is_not_allowed_for_this_client(client, spa):
    other = code_client(client_type="public", allowed_origins="https://other.example")
    form = {"grant_type": "refresh_token", "client_id": other.client_id, "refresh_token": "x"}

    response = client.post(TOKEN_URL, urlencode(form), content_type=FORM, HTTP_ORIGIN=ORIGIN)

    assert "Access-Control-Allow-Origin" not in response


def test_a_disabled_clients_origin_is_not_allowed(client, spa):
    spa.enabled = False
    spa.save()

    response = client.options(TOKEN_URL, HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")

    assert "Access-Control-Allow-Origin" not in response


def test_introspection_takes_no_browser_calls(client, spa):
    response = client.options("/oauth2/introspect", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")

    assert "Access-Control-Allow-Origin" not in response


def test_the_public_metadata_document_is_readable_from_any_page(client):
    response = client.get("/.well-known/oauth-authorization-server", HTTP_ORIGIN="https://anyone.example")

    assert response["Access-Control-Allow-Origin"] == "*"
