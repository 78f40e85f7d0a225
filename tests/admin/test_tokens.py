"""Token admins: listed by client and resource owner, never the token, revocable."""

import pytest
from django.contrib.admin.models import LogEntry
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.admin.conftest import messages_of

pytestmark = pytest.mark.django_db

ACCESS_TOKENS = "/admin/oauth2_provider/accesstoken/"
REFRESH_TOKENS = "/admin/oauth2_provider/refreshtoken/"


@pytest.fixture
def issued(make_client, client_credentials_token):
    app = make_client(name="machine")
    token = client_credentials_token(app.client_id, app.raw_secret).json()["access_token"]
    return app, token


def test_the_access_token_list_shows_the_client_but_not_the_token_or_its_checksum(admin_client, issued):
    _, token = issued
    row = get_access_token_model().objects.get()

    page = admin_client.get(ACCESS_TOKENS).content.decode()

    assert "machine" in page
    assert token not in page
    assert row.token_checksum not in page
    assert row.token_checksum[:8] in page


def test_the_access_token_page_shows_no_token_either(admin_client, issued):
    _, token = issued
    row = get_access_token_model().objects.get()

    page = admin_client.get(f"{ACCESS_TOKENS}{row.pk}/change/").content.decode()

    assert token not in page
    assert row.token_checksum not in page
    assert "client credentials" in page


def test_revoking_selected_access_tokens_is_effective_and_logged(admin_client, issued):
    _, token = issued
    row = get_access_token_model().objects.get()

    response = admin_client.post(ACCESS_TOKENS, {"action": "revoke_tokens", "_selected_action": [row.pk]}, follow=True)

    assert "Revoked 1 access tokens." in messages_of(response)
    assert admin_client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert LogEntry.objects.get(object_id=str(row.pk)).get_change_message() == "Revoked."


def test_tokens_cannot_be_added_or_deleted_by_hand(admin_client):
    assert admin_client.get(f"{ACCESS_TOKENS}add/").status_code == 403
    assert admin_client.get(f"{REFRESH_TOKENS}add/").status_code == 403


def test_the_refresh_token_list_shows_state_and_revokes(admin_client, password_token):
    row = get_refresh_token_model().objects.get()

    listed = admin_client.get(REFRESH_TOKENS).content.decode()
    admin_client.post(REFRESH_TOKENS, {"action": "revoke_tokens", "_selected_action": [row.pk]})

    assert "active" in listed
    assert password_token["refresh_token"] not in listed
    row.refresh_from_db()
    assert row.revoked is not None
    assert "revoked" in admin_client.get(REFRESH_TOKENS).content.decode()


def test_the_toolkits_grant_and_id_token_admins_are_gone(admin_client):
    assert admin_client.get("/admin/oauth2_provider/grant/").status_code == 404
    assert admin_client.get("/admin/oauth2_provider/idtoken/").status_code == 404
