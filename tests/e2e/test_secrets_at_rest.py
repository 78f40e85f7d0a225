"""After real logins, neither the database nor the logs hold a password, raw token or client secret.

The gateway's own client secret at an authorization server, which it must send
there and so cannot hash, is stored encrypted: not in the database either.
"""

import logging

import pytest
from django.apps import apps
from django.db import connection

from oauthgw.models import AuthorizationServer
from tests.e2e.conftest import PASSWORD, USER
from tests.factories import ApplicationFactory
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


def test_login_and_refresh_leave_no_secret_in_database_or_logs(gateway, app_client, caplog):
    caplog.set_level(logging.DEBUG)
    issued = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="password", username=USER, password=PASSWORD
    ).json()
    refreshed = gateway.token(
        app_client.client_id, app_client.raw_secret, grant_type="refresh_token", refresh_token=issued["refresh_token"]
    ).json()
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
    }

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
