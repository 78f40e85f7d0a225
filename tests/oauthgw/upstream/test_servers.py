"""Which authorization server checks a client's resource owners, and what a disabled one does."""

import pytest
import responses
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.db import connection

from oauthgw.exceptions import AuthorizationServerDisabled
from oauthgw.models import AuthorizationServer, ResourceOwner
from oauthgw.upstream.servers import authorization_server_for
from tests.oauthgw.conftest import PASSWORD, USERNAME

pytestmark = pytest.mark.django_db

OTHER_URL = "http://other-upstream.test/oauth/token"


@pytest.fixture
def other_server(db):
    return AuthorizationServer.objects.create(
        name="partner", token_url=OTHER_URL, client_id="gw-at-partner", client_secret="partner-secret", timeout=1.5
    )


def test_a_client_without_a_server_uses_the_default_from_the_settings(make_client, upstream_url):
    config = authorization_server_for(make_client())

    assert config.name == "default"
    assert config.token_url == upstream_url
    assert config.client_id == "gateway"


def test_a_client_with_a_server_uses_that_servers_settings(make_client, other_server):
    config = authorization_server_for(make_client(authorization_server=other_server))

    assert (config.name, config.token_url, config.client_id, config.client_secret, config.timeout) == (
        "partner",
        OTHER_URL,
        "gw-at-partner",
        "partner-secret",
        1.5,
    )


def test_a_disabled_server_is_unavailable_not_a_rejection(make_client, other_server):
    other_server.enabled = False
    other_server.save()

    with pytest.raises(AuthorizationServerDisabled):
        authorization_server_for(make_client(authorization_server=other_server))


def test_the_password_grant_asks_the_clients_server_and_records_it_on_the_owner(
    post_token, make_client, other_server, upstream
):
    upstream.mock.add(responses.POST, OTHER_URL, json={"access_token": "x", "token_type": "bearer"})
    app = make_client(authorization_server=other_server)

    response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app)

    assert response.status_code == 200
    assert [call.request.url for call in upstream.calls] == [OTHER_URL]
    assert ResourceOwner.objects.get(subject=USERNAME).authorization_server == "partner"


def test_the_same_username_at_two_servers_is_two_resource_owners(post_token, make_client, other_server, upstream):
    upstream.accepts()
    upstream.mock.add(responses.POST, OTHER_URL, json={"access_token": "x", "token_type": "bearer"})
    form = {"grant_type": "password", "username": USERNAME, "password": PASSWORD}

    post_token(form, app=make_client())
    post_token(form, app=make_client(authorization_server=other_server))

    assert sorted(ResourceOwner.objects.values_list("authorization_server", flat=True)) == ["default", "partner"]


def test_a_disabled_server_answers_503_without_calling_it(post_token, make_client, other_server, upstream):
    other_server.enabled = False
    other_server.save()
    app = make_client(authorization_server=other_server)

    response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app)

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "Retry-After" in response
    assert upstream.calls == []


# --- The client secret, encrypted at rest ---------------------------------------------------


def stored_column(server) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {AuthorizationServer._meta.db_table} WHERE id = %s",  # noqa: S608
            [server.pk],
        )
        return repr(cursor.fetchall())


def test_the_client_secret_is_stored_encrypted_and_read_back_as_given(other_server):
    assert "partner-secret" not in stored_column(other_server)
    assert AuthorizationServer.objects.get(pk=other_server.pk).client_secret == "partner-secret"


def test_a_server_whose_secret_no_key_opens_answers_503_and_logs_its_name_not_the_secret(
    post_token, make_client, other_server, upstream, settings, caplog
):
    settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": Fernet.generate_key().decode()}  # the old key is lost
    app = make_client(authorization_server=other_server)
    upstream.accepts()

    response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app)

    assert response.status_code == 503, response.content
    assert response.json()["error"] == "temporarily_unavailable"
    assert "Retry-After" in response
    assert upstream.calls == []
    [line] = [record for record in caplog.records if "cannot be decrypted" in record.getMessage()]
    assert "partner" in line.getMessage()
    assert line.exc_info is None
    assert "partner-secret" not in caplog.text


def test_a_lost_key_costs_only_that_servers_logins(post_token, make_client, other_server, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    upstream.accepts()
    form = {"grant_type": "password", "username": USERNAME, "password": PASSWORD}

    assert post_token(form, app=make_client()).status_code == 200
    assert (
        post_token({"grant_type": "client_credentials"}, app=make_client(authorization_server=other_server)).status_code
        == 200
    )


# --- The secret follows the URL it was entered for -----------------------------------------


def test_a_new_url_without_the_secret_entered_again_does_not_validate(other_server):
    server = AuthorizationServer.objects.get(pk=other_server.pk)
    server.token_url = "https://elsewhere.test/token"

    with pytest.raises(ValidationError) as caught:
        server.full_clean()

    assert "client_secret" in caught.value.message_dict


def test_a_new_url_with_the_secret_entered_again_validates(other_server):
    server = AuthorizationServer.objects.get(pk=other_server.pk)
    server.token_url = "https://elsewhere.test/token"
    server.client_secret = "partner-secret"  # the same value, typed again

    server.full_clean()


def test_a_malformed_key_list_at_run_time_is_503_too_and_says_which_entry(
    post_token, make_client, other_server, upstream, settings, caplog
):
    # gunicorn runs no system checks: oauthgw.E020 may not have stopped the start.
    settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": "not-a-fernet-key"}
    app = make_client(authorization_server=other_server)

    response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app)

    assert response.status_code == 503
    assert "partner" in caplog.text
    assert "positions [1]" in caplog.text
    assert "not-a-fernet-key" not in caplog.text
