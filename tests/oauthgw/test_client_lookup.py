"""Client rows come from process memory, and a change to any client is seen by the next request."""

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oauthgw.client_lookup import client_load
from oauthgw.clients import client_disable, client_secret_rotate
from oauthgw.models import Application, AuthorizationServer

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        settings.CACHES["default"]["BACKEND"] != "gatewayproj.cache.GatewayRedisCache",
        reason="needs Redis (REDIS_URL): without it every lookup reads the database",
    ),
]

CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}


def client_queries(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "oauthgw_application" in query["sql"]]


def test_a_clients_second_token_request_does_not_read_its_row(post_token, make_client):
    app = make_client()
    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 200

    with CaptureQueriesContext(connection) as captured:
        response = post_token(CLIENT_CREDENTIALS, app=app)

    assert response.status_code == 200
    assert client_queries(captured) == []


def test_a_wrong_secret_is_refused_from_the_copy_too(post_token, make_client):
    app = make_client()
    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 200

    assert post_token(CLIENT_CREDENTIALS, app=app, secret="not-the-secret").status_code == 401


def test_disabling_a_client_refuses_its_next_request(post_token, make_client):
    app = make_client()
    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 200

    client_disable(client=app)

    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 401


def test_a_rotated_secret_works_and_the_old_one_stops_at_once(post_token, make_client):
    app = make_client()
    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 200

    _, new_secret = client_secret_rotate(client=app)

    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 401
    assert post_token(CLIENT_CREDENTIALS, app=app, secret=new_secret).status_code == 200


def test_a_change_announced_by_another_instance_is_seen(make_client):
    app = make_client()
    assert client_load(app.client_id).enabled
    # Another instance disables the client: its row changes, and it announces the change.
    Application.objects.filter(pk=app.pk).update(enabled=False)
    other = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    try:
        other.set(cache.make_key("oauthgw:clients:changed"), b"1")
    finally:
        other.close()

    assert not client_load(app.client_id).enabled


def test_a_change_to_its_authorization_server_is_seen(make_client):
    server = AuthorizationServer.objects.create(name="near", token_url="http://127.0.0.1:9/token", client_id="gw")
    app = make_client()
    app.authorization_server = server
    app.save()
    assert client_load(app.client_id).authorization_server.enabled

    server.enabled = False
    server.save()

    assert not client_load(app.client_id).authorization_server.enabled


def test_copies_are_not_shared_between_requests(make_client):
    app = make_client()
    first = client_load(app.client_id)
    first.name = "changed by one request"

    assert client_load(app.client_id).name == app.name
