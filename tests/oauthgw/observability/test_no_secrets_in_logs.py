"""The logs of a whole login flow, at DEBUG, hold no password, client secret or token."""

import logging

import pytest

from oauthgw.observability.json_logs import JsonFormatter
from tests.oauthgw.conftest import FORM, PASSWORD, basic_authorization

pytestmark = pytest.mark.django_db


def test_a_full_login_flow_logs_no_password_secret_or_token(client, make_client, upstream, caplog, settings):
    caplog.set_level(logging.DEBUG)
    # Every repeated refresh token is a replay here, not a duplicate within the reuse interval.
    settings.OAUTHGW = {**settings.OAUTHGW, "REFRESH_REUSE_INTERVAL": 0}
    app = make_client(can_introspect=True)
    auth = basic_authorization(app.client_id, app.raw_secret)

    def post(path: str, body: str, authorization: str = auth):
        return client.post(path, body, content_type=FORM, HTTP_AUTHORIZATION=authorization)

    upstream.rejects()
    assert post("/oauth2/token", "grant_type=password&username=alice&password=wrong-guess-1234").status_code == 401
    upstream.accepts()
    login = post("/oauth2/token", f"grant_type=password&username=alice&password={PASSWORD}").json()
    refreshed = post("/oauth2/token", f"grant_type=refresh_token&refresh_token={login['refresh_token']}").json()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {refreshed['access_token']}"}
    assert client.get("/helloworld/", **bearer).status_code == 200
    assert post("/oauth2/introspect", f"token={refreshed['access_token']}").json()["active"] is True
    # A replay revokes the family: the rotated access token stops working too.
    assert post("/oauth2/token", f"grant_type=refresh_token&refresh_token={login['refresh_token']}").status_code == 401
    assert client.get("/helloworld/", **bearer).status_code == 401
    assert post("/oauth2/revoke", f"token={refreshed['refresh_token']}").status_code == 200
    # Another last character: the generated secret ends in "x" once in 62 runs.
    other_last = "y" if app.raw_secret.endswith("x") else "x"
    wrong_secret = basic_authorization(app.client_id, app.raw_secret[:-1] + other_last)
    assert post("/oauth2/token", "grant_type=client_credentials", wrong_secret).status_code == 401

    formatter = JsonFormatter()
    logs = "\n".join(formatter.format(record) for record in caplog.records)
    assert logs, "the flow should log something (refusals, upstream verdicts)"
    secrets = {
        "password": PASSWORD,
        "wrong password": "wrong-guess-1234",
        "client secret": app.raw_secret,
        "access token": login["access_token"],
        "refresh token": login["refresh_token"],
        "rotated access token": refreshed["access_token"],
        "rotated refresh token": refreshed["refresh_token"],
    }
    leaked = [name for name, value in secrets.items() if value in logs]
    assert leaked == []
