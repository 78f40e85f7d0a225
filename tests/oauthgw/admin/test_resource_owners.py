"""Resource owners in the admin: their tokens, revoking them all, and never a login."""

import pytest
from django.contrib.admin.models import LogEntry

from oauthgw.models import ResourceOwner
from tests.oauthgw.admin.conftest import messages_of

pytestmark = pytest.mark.django_db

OWNERS = "/admin/oauthgw/resourceowner/"


def test_the_list_shows_the_server_and_live_token_count(admin_client, password_token):
    response = admin_client.get(OWNERS)

    [owner] = response.context["cl"].result_list
    assert (owner.subject, owner.authorization_server, owner.live_tokens) == ("alice", "default", 1)


def test_revoking_an_owners_tokens_makes_the_api_reject_them_and_is_logged(admin_client, password_token):
    owner = ResourceOwner.objects.get()

    response = admin_client.post(OWNERS, {"action": "revoke_owner_tokens", "_selected_action": [owner.pk]}, follow=True)

    assert "Revoked 1 access token, 1 refresh token." in messages_of(response)
    bearer = f"Bearer {password_token['access_token']}"
    assert admin_client.get("/helloworld/", HTTP_AUTHORIZATION=bearer).status_code == 401
    assert LogEntry.objects.get(object_id=str(owner.pk)).get_change_message() == (
        "Revoked all tokens: 1 access token, 1 refresh token."
    )


def test_an_owners_page_reads_as_a_view(admin_client, password_token):
    owner = ResourceOwner.objects.get()

    page = admin_client.get(f"{OWNERS}{owner.pk}/change/").content.decode()

    assert "<h1>View resource owner</h1>" in page
    assert 'name="_save"' not in page


def test_owners_cannot_be_added_by_hand(admin_client):
    assert admin_client.get(f"{OWNERS}add/").status_code == 403


def test_shadow_users_are_not_in_the_users_list(admin_client, admin_user, password_token):
    response = admin_client.get("/admin/auth/user/")

    assert [user.username for user in response.context["cl"].result_list] == [admin_user.username]


def test_a_shadow_user_cannot_log_into_the_admin(client, password_token):
    owner = ResourceOwner.objects.select_related("user").get()

    assert not owner.user.has_usable_password()
    assert not owner.user.is_staff
    response = client.post(
        "/admin/login/?next=/admin/", {"username": owner.user.username, "password": "alice-password"}
    )
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session
