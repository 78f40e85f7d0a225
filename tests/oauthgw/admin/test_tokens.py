"""Token admins: listed by client and resource owner, never the token, revocable."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.oauthgw.admin.conftest import messages_of

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

    assert "Revoked 1 access token." in messages_of(response)
    assert admin_client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert LogEntry.objects.get(object_id=str(row.pk)).get_change_message() == "Revoked."


@pytest.mark.parametrize("url", [ACCESS_TOKENS, REFRESH_TOKENS])
def test_a_tokens_page_reads_as_a_view_without_a_save_button(admin_client, password_token, url):
    listed = admin_client.get(url)
    [row] = listed.context["cl"].result_list

    page = admin_client.get(f"{url}{row.pk}/change/").content.decode()

    kind = "access" if url == ACCESS_TOKENS else "refresh"
    assert f"| View {kind} token |" in page
    assert f"<h1>View {kind} token</h1>" in page
    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page
    assert admin_client.post(f"{url}{row.pk}/change/", {}).status_code == 403


def test_staff_who_may_only_view_tokens_are_not_offered_revocation(client, django_user_model, issued):
    viewer = django_user_model.objects.create_user("viewer", password="a-long-viewer-password", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_accesstoken"))
    client.force_login(viewer)

    response = client.get(ACCESS_TOKENS)

    assert response.status_code == 200
    assert "revoke_tokens" not in response.content.decode()


def test_the_token_lists_say_client_not_application(admin_client, issued):
    page = admin_client.get(ACCESS_TOKENS).content.decode()

    assert "By client" in page
    assert "application" not in re.sub(r"<[^>]+>", "", page).lower()


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


def test_a_clients_live_token_count_links_to_exactly_those_tokens(admin_client, make_client, client_credentials_token):
    app = make_client()
    for _ in range(3):
        client_credentials_token(app.client_id, app.raw_secret)
    expired = get_access_token_model().objects.filter(application=app).first()
    expired.expires = timezone.now() - timedelta(minutes=1)
    expired.save()

    page = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk])).content.decode()
    link = re.search(r'<a href="([^"]+)">(\d+) access tokens</a>', page)
    listed = admin_client.get(html.unescape(link.group(1))).context["cl"].result_list

    assert int(link.group(2)) == 2
    assert sorted(token.pk for token in listed) == sorted(
        get_access_token_model().objects.filter(application=app).exclude(pk=expired.pk).values_list("pk", flat=True)
    )
