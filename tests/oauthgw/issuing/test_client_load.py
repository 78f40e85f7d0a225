"""The token endpoint reads its client's row on every request: the database decides, however it changed."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from oauthgw.issuing.clients import client_load, client_secret_rotate
from oauthgw.models import Application, AuthorizationServer

CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}


def client_queries(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "oauthgw_application" in query["sql"]]


def test_a_token_request_reads_its_clients_row_once(post_token, make_client):
    app = make_client()
    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 200

    with CaptureQueriesContext(connection) as captured:
        response = post_token(CLIENT_CREDENTIALS, app=app)

    assert response.status_code == 200
    assert len(client_queries(captured)) == 1


def test_a_client_disabled_by_a_queryset_update_is_refused_at_its_next_request(post_token, make_client):
    app = make_client()
    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 200

    Application.objects.filter(pk=app.pk).update(enabled=False)

    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 401


def test_a_client_disabled_with_sql_is_refused_at_its_next_request(post_token, make_client):
    app = make_client()
    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 200

    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Application._meta.db_table} SET enabled = %s WHERE id = %s", [False, app.pk])  # noqa: S608

    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 401


def test_a_rotated_secret_works_and_the_old_one_stops_at_once(post_token, make_client):
    app = make_client()
    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 200

    _, new_secret = client_secret_rotate(client=app)

    assert post_token(CLIENT_CREDENTIALS, app=app).status_code == 401
    assert post_token(CLIENT_CREDENTIALS, app=app, secret=new_secret).status_code == 200


def test_a_client_id_with_a_nul_is_no_client_and_costs_no_query(make_client):
    make_client()

    with CaptureQueriesContext(connection) as captured:
        assert client_load("ab\x00c") is None

    assert captured.captured_queries == []


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_client_read_is_the_row_the_orm_reads_with_its_server_and_no_further_query(make_client):
    server = AuthorizationServer.objects.create(
        name="corp", token_url="https://corp.test/token", client_id="gw", client_secret="upstream-secret"
    )
    app = make_client(authorization_server=server)
    expected = Application.objects.select_related("authorization_server").get(pk=app.pk)

    client = client_load(app.client_id)

    assert field_values(client) == field_values(expected)
    assert client.created.tzinfo is not None
    with CaptureQueriesContext(connection) as captured:
        assert field_values(client.authorization_server) == field_values(expected.authorization_server)
        assert client.authorization_server.client_secret == "upstream-secret"
    assert captured.captured_queries == []


def test_a_client_without_a_server_reads_none_for_it_without_a_query(make_client):
    app = make_client()

    client = client_load(app.client_id)

    with CaptureQueriesContext(connection) as captured:
        assert client.authorization_server is None
    assert captured.captured_queries == []
    assert client.pk == app.pk


def test_an_unknown_client_id_is_no_client(make_client):
    make_client()

    assert client_load("no-such-client") is None
