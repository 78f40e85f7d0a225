"""The clients admin: one-time secret page, custom secrets, rotation, enable/disable, history."""

import re

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from oauthgw.hashers import MIN_CUSTOM_SECRET_LENGTH
from oauthgw.models import Application
from tests.admin.conftest import messages_of

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/oauthgw/application/add/"
CHANGELIST_URL = "/admin/oauthgw/application/"


def add_form(**overrides) -> dict:
    return {
        "name": "portal",
        "enabled": "on",
        "grant_types": ["client_credentials", "password"],
        "allowed_scopes": ["hello"],
        "default_scopes": ["hello"],
        "authorization_server": "",
        "custom_secret": "",
        **overrides,
    }


def shown_secret(response) -> str:
    match = re.search(r'<code id="client-secret">([^<]+)</code>', response.content.decode())
    assert match, "the secret page shows the secret"
    return match.group(1)


def test_adding_a_client_shows_its_generated_secret_once(admin_client, client_credentials_token):
    response = admin_client.post(ADD_URL, add_form())

    assert response.status_code == 200
    secret = shown_secret(response)
    app = Application.objects.get(name="portal")
    assert len(secret) >= 64
    assert client_credentials_token(app.client_id, secret).status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_the_secret_is_in_no_message_no_session_and_not_stored_raw(admin_client):
    response = admin_client.post(ADD_URL, add_form())
    secret = shown_secret(response)
    app = Application.objects.get(name="portal")

    later = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk]))

    assert secret not in later.content.decode()
    assert not any(secret in message for message in messages_of(response) + messages_of(later))
    assert all(secret not in str(value) for value in admin_client.session.values())
    assert secret not in app.client_secret


def test_adding_a_client_is_logged(admin_client, admin_user):
    admin_client.post(ADD_URL, add_form())

    entry = LogEntry.objects.get(object_repr="portal")
    assert (entry.user, entry.is_addition()) == (admin_user, True)


def test_a_short_custom_secret_is_refused_with_a_form_error(admin_client):
    response = admin_client.post(ADD_URL, add_form(custom_secret="short-but-typed-by-hand"))

    assert response.status_code == 200
    assert f"at least {MIN_CUSTOM_SECRET_LENGTH} characters" in response.content.decode()
    assert not Application.objects.exists()


def test_a_long_custom_secret_is_used(admin_client, client_credentials_token):
    custom = "c" * MIN_CUSTOM_SECRET_LENGTH

    response = admin_client.post(ADD_URL, add_form(custom_secret=custom))

    assert shown_secret(response) == custom
    assert client_credentials_token(Application.objects.get().client_id, custom).status_code == 200


def test_the_default_scopes_must_be_allowed(admin_client):
    response = admin_client.post(ADD_URL, add_form(allowed_scopes=[], default_scopes=["hello"]))

    assert "Default scopes must be among the allowed scopes" in response.content.decode()


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_for_the_grace(
    admin_client, make_client, client_credentials_token
):
    app = make_client()
    url = reverse("admin:oauthgw_application_rotate_secret", args=[app.pk])

    response = admin_client.post(url, {"grace": "3600", "custom_secret": ""})

    new_secret = shown_secret(response)
    assert "previous secret is still accepted until" in response.content.decode()
    assert client_credentials_token(app.client_id, new_secret).status_code == 200
    assert client_credentials_token(app.client_id, app.raw_secret).status_code == 200
    assert LogEntry.objects.get(object_id=str(app.pk)).get_change_message().startswith("Rotated the client secret")


def test_rotating_without_grace_retires_the_old_secret(admin_client, make_client, client_credentials_token):
    app = make_client()

    admin_client.post(reverse("admin:oauthgw_application_rotate_secret", args=[app.pk]), {"grace": "0"})

    assert client_credentials_token(app.client_id, app.raw_secret).status_code == 401


def test_rotating_with_a_short_custom_secret_is_a_form_error(admin_client, make_client):
    app = make_client()
    url = reverse("admin:oauthgw_application_rotate_secret", args=[app.pk])

    response = admin_client.post(url, {"grace": "0", "custom_secret": "tiny"})

    assert response.status_code == 200
    assert f"at least {MIN_CUSTOM_SECRET_LENGTH} characters" in response.content.decode()
    assert Application.objects.get(pk=app.pk).secret_rotated is None


def test_the_change_page_links_to_rotation(admin_client, make_client):
    app = make_client()

    page = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk])).content.decode()

    assert reverse("admin:oauthgw_application_rotate_secret", args=[app.pk]) in page


def test_the_disable_action_refuses_the_client_at_once_and_is_logged(
    admin_client, make_client, client_credentials_token
):
    app = make_client()
    token = client_credentials_token(app.client_id, app.raw_secret).json()["access_token"]

    admin_client.post(CHANGELIST_URL, {"action": "disable_clients", "_selected_action": [app.pk]})

    assert client_credentials_token(app.client_id, app.raw_secret).status_code == 401
    assert admin_client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert "Disabled" in LogEntry.objects.get(object_id=str(app.pk)).get_change_message()


def test_the_enable_action_lets_the_client_back_in(admin_client, make_client, client_credentials_token):
    app = make_client(enabled=False)

    admin_client.post(CHANGELIST_URL, {"action": "enable_clients", "_selected_action": [app.pk]})

    assert client_credentials_token(app.client_id, app.raw_secret).status_code == 200


def test_the_revoke_all_action_ends_the_clients_tokens(admin_client, make_client, client_credentials_token):
    app = make_client()
    token = client_credentials_token(app.client_id, app.raw_secret).json()["access_token"]

    response = admin_client.post(
        CHANGELIST_URL, {"action": "revoke_client_tokens", "_selected_action": [app.pk]}, follow=True
    )

    assert admin_client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert "Revoked 1 access and 0 refresh tokens." in messages_of(response)
    assert "Revoked all tokens" in LogEntry.objects.get(object_id=str(app.pk)).get_change_message()


def test_the_rotate_action_needs_exactly_one_client(admin_client, make_client):
    first, second = make_client(), make_client()

    one = admin_client.post(CHANGELIST_URL, {"action": "rotate_secret", "_selected_action": [first.pk]})
    two = admin_client.post(
        CHANGELIST_URL, {"action": "rotate_secret", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert one.status_code == 302
    assert one["Location"] == reverse("admin:oauthgw_application_rotate_secret", args=[first.pk])
    assert "Select exactly one client to rotate its secret." in messages_of(two)


def test_the_list_shows_when_a_client_last_got_a_token(admin_client, make_client, client_credentials_token):
    used = make_client(name="used-client")
    make_client(name="unused-client")
    client_credentials_token(used.client_id, used.raw_secret)

    response = admin_client.get(CHANGELIST_URL)

    rows = {app.name: app.last_used_at for app in response.context["cl"].result_list}
    assert rows["used-client"] is not None
    assert rows["unused-client"] is None


def test_the_list_filters_by_grant_type(admin_client, make_client):
    make_client(name="machine", grant_types="client_credentials")
    make_client(name="app", grant_types="password refresh_token")

    response = admin_client.get(CHANGELIST_URL, {"grant_type": "refresh_token"})

    assert [app.name for app in response.context["cl"].result_list] == ["app"]
