"""Deleting clients in the admin: what the page says, what goes, what stays, and who may."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import responses
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.credentials import token_checksum
from oauthgw.models import Application, AuditEvent, DeletedClient, UpstreamSession
from tests.oauthgw.admin.conftest import FORM, basic, messages_of

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
CHANGELIST = "/admin/oauthgw/application/"


def token_request(client, app, **form):
    return client.post(
        "/oauth2/token", urlencode(form), content_type=FORM, HTTP_AUTHORIZATION=basic(app.client_id, app.raw_secret)
    )


@pytest.fixture
def busy_client(client, make_client, upstream_mock, upstream_url):
    """A client that was used: two logins (one refreshed), a machine token, an expired token, failures."""
    answer = {"access_token": "upstream", "token_type": "bearer", "refresh_token": "upstream-refresh-token"}
    upstream_mock.add(responses.POST, upstream_url, json=answer)
    app = make_client(name="retired-app")
    first = token_request(client, app, grant_type="password", username="alice", password="pw").json()
    token_request(client, app, grant_type="password", username="bob", password="pw")
    refreshed = token_request(client, app, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    expired = token_request(client, app, grant_type="client_credentials").json()
    AccessToken.objects.filter(token_checksum=token_checksum(expired["access_token"])).update(
        expires=timezone.now() - timedelta(hours=1)
    )
    machine = token_request(client, app, grant_type="client_credentials").json()
    wrong = app.raw_secret
    app.raw_secret = "not-the-secret"
    token_request(client, app, grant_type="client_credentials")
    app.raw_secret = wrong
    app.tokens = {"refreshed": refreshed, "machine": machine, "first": first}
    return app


def delete_url(app) -> str:
    return reverse("admin:oauthgw_application_delete", args=[app.pk])


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_confirmation_page_counts_what_goes_and_what_stays(admin_client, busy_client):
    response = admin_client.get(delete_url(busy_client))

    assert response.status_code == 200
    text = page_text(response)
    assert f"Delete the client retired-app ( {busy_client.client_id} )?" in text
    assert "3 live access tokens" in text
    assert "(and 1 expired one)" in text
    assert "2 usable refresh tokens: no more refreshes, people log in again" in text
    assert "(and 1 revoked one kept to recognise a replay)" in text
    assert "2 sessions, and the 2 refresh tokens of the authorization server kept for them, encrypted" in text
    assert "6 audit events, which keep showing the client id and the name (retired-app)" in text
    assert "This cannot be undone." in text
    assert "upstream-refresh-token" not in response.content.decode()


def test_a_superuser_deletes_a_client_with_its_tokens_and_sessions_and_its_audit_trail_stays(
    admin_client, client, busy_client, make_client
):
    other = make_client(name="still-here")
    kept = token_request(client, other, grant_type="client_credentials").json()
    events = AuditEvent.objects.filter(client_id=busy_client.client_id).count()

    response = admin_client.post(delete_url(busy_client), {"post": "yes"}, follow=True)

    assert response.redirect_chain[-1][0] == CHANGELIST
    assert "3 live access tokens, 2 usable refresh tokens and 2 sessions went with it; 6 audit events stay." in (
        messages_of(response)
    )
    assert not Application.objects.filter(pk=busy_client.pk).exists()
    for model, field in ((AccessToken, "application_id"), (RefreshToken, "application_id")):
        assert not model.objects.filter(**{field: busy_client.pk}).exists()
    assert not UpstreamSession.objects.filter(client_id=busy_client.pk).exists()
    assert AuditEvent.objects.filter(client_id=busy_client.client_id).count() == events == 6
    assert DeletedClient.objects.get(client_id=busy_client.client_id).name == "retired-app"
    # Its credentials and tokens stop at once; the other client's do not.
    refused = token_request(client, busy_client, grant_type="client_credentials")
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    for pair in busy_client.tokens.values():
        bearer = f"Bearer {pair['access_token']}"
        assert client.get("/helloworld/", HTTP_AUTHORIZATION=bearer).status_code == 401
    assert client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {kept['access_token']}").status_code == 200
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert (entry.object_id, entry.object_repr) == (str(busy_client.pk), "retired-app")


def test_the_audit_trail_names_a_deleted_client_by_its_id_and_name(admin_client, busy_client):
    admin_client.post(delete_url(busy_client), {"post": "yes"})

    trail = admin_client.get("/admin/oauthgw/auditevent/")
    by_name = admin_client.get("/admin/oauthgw/auditevent/", {"q": "retired"})
    filtered = admin_client.get("/admin/oauthgw/auditevent/", {"client_id": busy_client.client_id})

    cells = re.findall(r'<td class="field-client">(.*?)</td>', trail.content.decode(), re.S)
    assert len(cells) == 6
    assert {re.sub(r"<[^>]+>", "", cell) for cell in cells} == {f"retired-app (deleted){busy_client.client_id}"}
    assert len(by_name.context["cl"].result_list) == 6
    assert len(filtered.context["cl"].result_list) == 6
    assert "retired-app (deleted)" in page_text(filtered)


def test_reloading_the_confirmed_deletion_changes_nothing_more(admin_client, busy_client):
    admin_client.post(delete_url(busy_client), {"post": "yes"})

    again = admin_client.post(delete_url(busy_client), {"post": "yes"}, follow=True)

    assert again.status_code == 200
    assert any("Perhaps it was deleted?" in message for message in messages_of(again))
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 1
    assert DeletedClient.objects.count() == 1


def test_a_deletion_confirmed_while_another_is_under_way_changes_nothing(admin_client, busy_client, monkeypatch):
    # Both requests read the client; the first deletes it before the second's deletion starts.
    from oauthgw.admin import client_deletion

    real_delete = client_deletion.client_delete

    def deleted_first(*, client):
        real_delete(client=Application.objects.get(pk=client.pk))
        return real_delete(client=client)

    monkeypatch.setattr(client_deletion, "client_delete", deleted_first)

    response = admin_client.post(delete_url(busy_client), {"post": "yes"}, follow=True)

    assert response.redirect_chain[-1][0] == CHANGELIST
    assert "That client had already been deleted; nothing was changed." in messages_of(response)
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_the_list_action_deletes_several_clients_after_a_page_with_their_counts(admin_client, busy_client, make_client):
    idle = make_client(name="never-used")
    selected = {"action": "delete_clients", "_selected_action": [busy_client.pk, idle.pk]}

    page = admin_client.post(CHANGELIST, selected)
    done = admin_client.post(CHANGELIST, {**selected, "post": "yes"}, follow=True)

    text = page_text(page)
    assert page.status_code == 200
    assert "Delete these clients?" in text
    assert f"retired-app {busy_client.client_id} 3 2 2 6" in text
    assert f"never-used {idle.client_id} 0 0 0 0" in text
    assert "Deleted 2 clients: 3 live access tokens, 2 usable refresh tokens and 2 sessions went with them; " in (
        " ".join(messages_of(done))
    )
    assert not Application.objects.filter(pk__in=[busy_client.pk, idle.pk]).exists()
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2
    assert "delete_selected" not in page_text(admin_client.get(CHANGELIST))


@pytest.fixture
def staff_client(client, django_user_model):
    """A staff member who may view and delete clients, and nothing more."""
    user = django_user_model.objects.create_user("deputy", password="a long staff password 42", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="oauthgw", codename__in=["view_application", "delete_application"]
        )
    )
    client.force_login(user)
    client.user = user
    return client


def test_staff_who_may_not_delete_tokens_are_told_why_and_refused(staff_client, busy_client):
    page = staff_client.get(delete_url(busy_client))
    refused = staff_client.post(delete_url(busy_client), {"post": "yes"})

    text = page_text(page)
    assert "Deleting the client retired-app also deletes its tokens and sessions" in text
    assert "access token refresh token session" in text
    assert refused.status_code == 403
    assert Application.objects.filter(pk=busy_client.pk).exists()


def test_staff_with_the_delete_permissions_of_what_goes_with_it_may_delete(staff_client, busy_client):
    staff_client.user.user_permissions.add(
        *Permission.objects.filter(codename__in=["delete_accesstoken", "delete_refreshtoken", "delete_upstreamsession"])
    )

    staff_client.post(delete_url(busy_client), {"post": "yes"})

    assert not Application.objects.filter(pk=busy_client.pk).exists()


def test_staff_who_may_delete_clients_delete_one_that_never_had_a_token(staff_client, make_client):
    idle = make_client(name="never-used")

    staff_client.post(delete_url(idle), {"post": "yes"})

    assert not Application.objects.filter(pk=idle.pk).exists()


def test_staff_without_the_delete_permission_see_no_delete_action(client, django_user_model, busy_client):
    user = django_user_model.objects.create_user("viewer", password="a long staff password 42", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_application", "change_application"]))
    client.force_login(user)

    assert "delete_clients" not in client.get(CHANGELIST).content.decode()
    assert client.get(delete_url(busy_client)).status_code == 403


def test_deleting_a_jwt_client_says_apis_verifying_alone_accept_its_tokens_until_they_expire(admin_client, make_client):
    jwt, opaque = make_client(token_format="jwt"), make_client()

    jwt_page = page_text(admin_client.get(delete_url(jwt)))
    opaque_page = page_text(admin_client.get(delete_url(opaque)))

    note = "APIs that verify JWT access tokens alone, with the published keys, accept the ones already issued"
    assert note in jwt_page
    assert note not in opaque_page
