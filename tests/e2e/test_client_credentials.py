import pytest
from oauthlib.oauth2 import BackendApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("insecure_transport_ok")]


def test_client_credentials_token_has_no_refresh_token_and_no_resource_owner(gateway, app_client):
    session = OAuth2Session(client=BackendApplicationClient(client_id=app_client.client_id))

    token = session.fetch_token(gateway.token_url, auth=HTTPBasicAuth(app_client.client_id, app_client.raw_secret))

    assert "refresh_token" not in token
    assert "refresh_token_expires_in" not in token
    hello = session.get(gateway.hello_url, timeout=10)
    assert hello.status_code == 200
    assert hello.json()["username"] is None
    assert hello.json()["client_id"] == app_client.client_id
