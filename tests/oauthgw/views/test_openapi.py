"""The OpenAPI 3 description and its documentation page, served without any CDN."""

import re

import pytest


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_openapi_3_and_describes_every_public_endpoint(schema):
    assert schema["openapi"].startswith("3.")
    assert {"/oauth2/token", "/oauth2/revoke", "/oauth2/introspect", "/helloworld/"} <= set(schema["paths"])


def test_the_token_endpoint_is_described_as_a_form_post_with_its_error_statuses(schema):
    token = schema["paths"]["/oauth2/token"]["post"]

    body = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert body == {"$ref": "#/components/schemas/TokenRequest"}
    assert {"200", "400", "401", "503"} <= set(token["responses"])
    grant_types = schema["components"]["schemas"]["TokenRequest"]["properties"]["grant_type"]["enum"]
    assert grant_types == ["authorization_code", "password", "refresh_token", "client_credentials"]


def test_the_token_endpoint_documents_the_password_grants_sunset_headers(schema):
    responses = schema["paths"]["/oauth2/token"]["post"]["responses"]

    for status in ("200", "400"):
        assert {"Deprecation", "Sunset", "Link"} <= set(responses[status]["headers"]), status


def test_the_token_endpoint_documents_dpop(schema):
    token = schema["paths"]["/oauth2/token"]["post"]
    schemas = schema["components"]["schemas"]

    assert [parameter["name"] for parameter in token["parameters"]] == ["DPoP"]
    for status in ("200", "400"):
        assert "DPoP-Nonce" in token["responses"][status]["headers"], status
    assert schemas["TokenResponse"]["properties"]["token_type"]["enum"] == ["Bearer", "DPoP"]
    assert "cnf" in schemas["IntrospectionResponse"]["properties"]


def test_helloworld_is_described_with_its_scope_and_response(schema):
    hello = schema["paths"]["/helloworld/"]["get"]

    assert {"oauth2": ["hello"]} in hello["security"]
    assert {"200", "401", "403"} <= set(hello["responses"])
    flows = schema["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["password"]["tokenUrl"] == "/oauth2/token"


def test_the_documentation_page_loads_its_assets_from_the_gateway(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    external = [url for url in re.findall(r"""(?:src|href)=["']([^"']+)""", page) if "://" in url]
    assert external == []


@pytest.mark.parametrize("method", ["options", "post"])
def test_the_documentation_page_refuses_other_methods_without_failing(client, method):
    response = getattr(client, method)("/api/docs/")

    assert response.status_code == 405
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
