"""After real logins, neither the database nor the logs hold a password, raw token or client secret.

The gateway's own client secret at an authorization server, which it must send
there and so cannot hash, is stored encrypted: not in the database either. So is
the refresh token the authorization server issued for a session, which the
gateway sends back there to re-verify the session, and so are the private keys
that sign JWT access tokens.
"""

import io
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from jwt.algorithms import ECAlgorithm

from oauthgw.models import AuthorizationServer, SigningKey, UpstreamSession
from tests.e2e.conftest import PASSWORD, USER
from tests.factories import ApplicationFactory
from tests.oauthgw.code_flow import form_fields, pkce_pair
from tests.support.processes import DEV_AUTH_CLIENT

pytestmark = pytest.mark.e2e


def _database_text() -> str:
    """Every column of every row of every table, as one string."""
    chunks = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 (table names come from the ORM)
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_login_and_refresh_leave_no_secret_in_database_or_logs(gateway, app_client, caplog, settings):
    # Every refresh asks the upstream again: its refresh token is sent, and rotated.
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_REVERIFY": "always"}
    caplog.set_level(logging.DEBUG)
    issued = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="password", username=USER, password=PASSWORD
    ).json()
    kept_at_login = UpstreamSession.objects.get().refresh_token
    refreshed = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=issued["refresh_token"]
    ).json()
    kept_after_refresh = UpstreamSession.objects.get().refresh_token
    failed = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="password", username=USER, password="a-wrong-password"
    )
    assert failed.status_code == 401
    secrets = {
        "resource-owner password": PASSWORD,
        "wrong password": "a-wrong-password",
        "client secret": app_client.raw_secret,
        "access token": issued["access_token"],
        "refresh token": issued["refresh_token"],
        "rotated access token": refreshed["access_token"],
        "rotated refresh token": refreshed["refresh_token"],
        "upstream refresh token": kept_at_login,
        "rotated upstream refresh token": kept_after_refresh,
    }
    assert kept_at_login and kept_after_refresh != kept_at_login, "the upstream issued and rotated no token"

    stored = _database_text()
    logged = caplog.text

    assert caplog.records, "the login produced no log lines at all: the scan would prove nothing"
    for name, value in secrets.items():
        assert value not in stored, f"{name} found in the database"
        assert value not in logged, f"{name} found in the logs"


def test_an_authorization_servers_client_secret_is_nowhere_in_the_database_yet_reaches_the_server(
    gateway, dev_upstream, admin_client, caplog
):
    caplog.set_level(logging.DEBUG)
    client_id, secret = DEV_AUTH_CLIENT
    response = admin_client.post(
        "/admin/oauthgw/authorizationserver/add/",
        {
            "name": "partner",
            "token_url": dev_upstream,
            "client_id": client_id,
            "client_secret": secret,
            "timeout": "5",
            "enabled": "on",
            "reverify": "never",
            "reverify_grace": "0",
        },
    )
    assert response.status_code == 302, response.content
    app = ApplicationFactory(authorization_server=AuthorizationServer.objects.get(name="partner"))

    # The development server answers 401 invalid_client (a 503 here) unless it gets the secret as typed.
    login = gateway.token(app.client_id, app.raw_secret, grant_type="password", username=USER, password=PASSWORD)

    assert login.status_code == 200, login.text
    assert secret not in _database_text()
    assert secret not in caplog.text


def test_private_signing_keys_are_nowhere_in_the_database_or_logs_yet_sign_tokens(gateway, caplog):
    caplog.set_level(logging.DEBUG)
    app = ApplicationFactory(token_format="jwt")
    issued = gateway.token(app.client_id, app.raw_secret, grant_type="password", username=USER, password=PASSWORD)
    assert issued.status_code == 200, issued.text
    call_command("rotate_signing_key", stdout=io.StringIO())
    jwks = requests.get(f"{gateway.url}/.well-known/jwks.json", timeout=10)

    stored = _database_text()
    for key in SigningKey.objects.all():
        private = serialization.load_pem_private_key(key.private_key.encode(), password=None)
        secrets = {
            "private key (PEM)": "".join(key.private_key.splitlines()[1:-1]),
            "private key (JWK d)": ECAlgorithm.to_jwk(private, as_dict=True)["d"],
        }
        for name, value in secrets.items():
            assert value not in stored, f"{name} of {key.kid} found in the database"
            assert value not in caplog.text, f"{name} of {key.kid} found in the logs"
            assert value not in jwks.text, f"{name} of {key.kid} found in the JWKS"
    assert issued.json()["access_token"] not in stored


def test_the_code_flow_leaves_no_password_code_verifier_or_login_key_in_database_or_logs(gateway, caplog, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_REVERIFY": "always"}
    caplog.set_level(logging.DEBUG)
    app = ApplicationFactory(
        client_type="public",
        grant_types="authorization_code refresh_token",
        redirect_uris="https://app.example/callback",
        skip_authorization=True,
    )
    verifier, challenge = pkce_pair()
    browser = requests.Session()
    page = browser.get(
        f"{gateway.url}/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": "https://app.example/callback",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        timeout=30,
    )
    signed_in = browser.post(
        f"{gateway.url}/oauth2/login",
        data={**form_fields(page), "username": USER, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    login_key = signed_in.cookies["oauthgw_login"]
    answered = browser.get(gateway.url + signed_in.headers["Location"], allow_redirects=False, timeout=30)
    code = parse_qs(urlsplit(answered.headers["Location"]).query)["code"][0]
    issued = requests.post(
        gateway.token_url,
        data={
            "grant_type": "authorization_code",
            "client_id": app.client_id,
            "code": code,
            "redirect_uri": "https://app.example/callback",
            "code_verifier": verifier,
        },
        timeout=30,
    ).json()
    secrets = {
        "resource-owner password": PASSWORD,
        "authorization code": code,
        "PKCE verifier": verifier,
        "login session key": login_key,
        "access token": issued["access_token"],
        "refresh token": issued["refresh_token"],
        "upstream refresh token": UpstreamSession.objects.get().refresh_token,
    }
    assert secrets["upstream refresh token"], "the upstream issued no refresh token"

    stored = _database_text()
    logged = caplog.text

    for name, value in secrets.items():
        assert value not in stored, f"{name} found in the database"
        assert value not in logged, f"{name} found in the logs"
