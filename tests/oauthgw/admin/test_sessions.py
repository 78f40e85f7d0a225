"""A resource owner's sessions in the admin: listed per client, revoked one by one or all, and blocking."""

from urllib.parse import urlencode

import pytest
import responses
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse

from oauthgw.models import AuthorizationServer, ResourceOwner, UpstreamSession
from tests.oauthgw.admin.conftest import FORM, basic, messages_of

pytestmark = pytest.mark.django_db

UPSTREAM_REFRESH_TOKEN = "upstream-refresh-token-the-admin-never-shows"


@pytest.fixture
def log_in(client, make_client, upstream_mock, upstream_url):
    """A password login of "alice" through a client of its own; the upstream issues a refresh token."""
    answer = {"access_token": "upstream", "token_type": "bearer", "refresh_token": UPSTREAM_REFRESH_TOKEN}
    upstream_mock.add(responses.POST, upstream_url, json=answer)

    def login(client_name: str = "web-app", username: str = "alice") -> dict:
        app = make_client(name=client_name)
        response = client.post(
            "/oauth2/token",
            urlencode({"grant_type": "password", "username": username, "password": "alice-password"}),
            content_type=FORM,
            HTTP_AUTHORIZATION=basic(app.client_id, app.raw_secret),
        )
        assert response.status_code == 200, response.content
        return response.json()

    return login


def owner_url(owner: ResourceOwner) -> str:
    return reverse("admin:oauthgw_resourceowner_change", args=[owner.pk])


def hello(client, pair: dict) -> int:
    return client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}").status_code


def test_the_owners_page_lists_each_live_session_by_client_without_the_upstream_token(admin_client, log_in):
    log_in("web-app")
    log_in("mobile-app")
    owner = ResourceOwner.objects.get()

    response = admin_client.get(owner_url(owner))

    page = response.content.decode()
    sessions = response.context["sessions"]
    assert sorted(str(row["client"]) for row in sessions) == ["mobile-app", "web-app"]
    assert {row["outcome"] for row in sessions} == {"vouched for at login"}
    assert {row["upstream_token"] for row in sessions} == {"kept (encrypted)"}
    assert UPSTREAM_REFRESH_TOKEN not in page
    for session in UpstreamSession.objects.all():
        assert session.encrypted_refresh_token not in page


def test_a_session_without_upstream_refresh_token_says_how_long_it_may_refresh(admin_client, client, make_client):
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "http://upstream.test/token", json={"access_token": "a", "token_type": "bearer"})
        app = make_client()
        client.post(
            "/oauth2/token",
            urlencode({"grant_type": "password", "username": "alice", "password": "p"}),
            content_type=FORM,
            HTTP_AUTHORIZATION=basic(app.client_id, app.raw_secret),
        )

    response = admin_client.get(owner_url(ResourceOwner.objects.get()))

    [row] = response.context["sessions"]
    assert row["upstream_token"].startswith("none: under re-verification")


def test_revoking_one_session_stops_its_tokens_and_leaves_the_others(admin_client, client, log_in):
    web, mobile = log_in("web-app"), log_in("mobile-app")
    owner = ResourceOwner.objects.get()
    family = UpstreamSession.objects.get(client__name="web-app").family

    response = admin_client.post(
        reverse("admin:oauthgw_resourceowner_revoke_session", args=[owner.pk, family]), follow=True
    )

    assert "Revoked the session: its tokens stopped working." in messages_of(response)
    assert (hello(client, web), hello(client, mobile)) == (401, 200)
    assert [str(row["client"]) for row in response.context["sessions"]] == ["mobile-app"]
    assert LogEntry.objects.get().get_change_message() == f"Revoked session {str(family)[:8]}."


def test_a_session_of_another_owner_cannot_be_revoked_through_this_owners_page(admin_client, client, log_in):
    log_in("web-app", username="alice")
    bobs = log_in("mobile-app", username="bob")
    alice = ResourceOwner.objects.get(subject="alice")
    family = UpstreamSession.objects.get(user__resource_owner__subject="bob").family

    response = admin_client.post(
        reverse("admin:oauthgw_resourceowner_revoke_session", args=[alice.pk, family]), follow=True
    )

    assert "That session had already ended." in messages_of(response)
    assert hello(client, bobs) == 200


def test_revoking_all_sessions(admin_client, client, log_in):
    pairs = [log_in("web-app"), log_in("mobile-app")]
    owner = ResourceOwner.objects.get()

    response = admin_client.post(reverse("admin:oauthgw_resourceowner_revoke_sessions", args=[owner.pk]), follow=True)

    assert [hello(client, pair) for pair in pairs] == [401, 401]
    assert response.context["sessions"] == []
    assert not UpstreamSession.objects.exists()


def test_blocking_asks_first_then_ends_the_sessions(admin_client, client, log_in):
    pair = log_in()
    owner = ResourceOwner.objects.get()
    block_url = reverse("admin:oauthgw_resourceowner_block", args=[owner.pk])

    question = admin_client.get(block_url)
    assert "This ends <strong>1 session</strong>" in question.content.decode()
    response = admin_client.post(block_url, {"reason": "left the company"}, follow=True)

    owner.refresh_from_db()
    assert (owner.blocked, owner.blocked_reason) == (True, "left the company")
    assert hello(client, pair) == 401
    assert "Unblock" in response.content.decode()


def test_a_blocked_owner_cannot_log_in_until_unblocked(admin_client, client, make_client, upstream_mock, log_in):
    log_in()
    owner = ResourceOwner.objects.get()
    admin_client.post(reverse("admin:oauthgw_resourceowner_block", args=[owner.pk]), {"reason": ""})
    app = make_client(name="portal")

    def password_login():
        return client.post(
            "/oauth2/token",
            urlencode({"grant_type": "password", "username": "alice", "password": "alice-password"}),
            content_type=FORM,
            HTTP_AUTHORIZATION=basic(app.client_id, app.raw_secret),
        )

    asked = len(upstream_mock.calls)
    assert password_login().status_code == 401
    assert len(upstream_mock.calls) == asked

    admin_client.post(reverse("admin:oauthgw_resourceowner_unblock", args=[owner.pk]))

    assert password_login().status_code == 200
    assert [entry.get_change_message() for entry in LogEntry.objects.order_by("pk")] == [
        "Blocked; revoked 1 access token, 1 refresh token.",
        "Unblocked.",
    ]


def test_staff_who_may_only_view_owners_can_neither_revoke_nor_block(client, django_user_model, log_in):
    log_in()
    owner = ResourceOwner.objects.get()
    viewer = django_user_model.objects.create_user("viewer", password="a-long-viewer-password", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_resourceowner"))
    client.force_login(viewer)

    page = client.get(owner_url(owner)).content.decode()

    assert "Revoke this session" not in page
    assert 'id="block"' not in page
    assert client.post(reverse("admin:oauthgw_resourceowner_block", args=[owner.pk])).status_code == 403
    assert client.post(reverse("admin:oauthgw_resourceowner_revoke_sessions", args=[owner.pk])).status_code == 403
    assert UpstreamSession.objects.count() == 1


def test_session_pages_are_post_only(admin_client, log_in):
    log_in()
    owner = ResourceOwner.objects.get()

    assert admin_client.get(reverse("admin:oauthgw_resourceowner_revoke_sessions", args=[owner.pk])).status_code == 405
    assert admin_client.get(reverse("admin:oauthgw_resourceowner_unblock", args=[owner.pk])).status_code == 405


# --- Settings in the admin ---------------------------------------------------------------


def server_form(**overrides) -> dict:
    return {
        "name": "partner",
        "token_url": "https://partner.test/token",
        "client_id": "gateway",
        "client_secret": "s",
        "timeout": "5.0",
        "enabled": "on",
        "reverify": "never",
        "reverify_interval": "",
        "reverify_grace": "0",
        **overrides,
    }


def test_an_authorization_server_re_verifies_as_its_form_says(admin_client):
    response = admin_client.post(
        "/admin/oauthgw/authorizationserver/add/",
        server_form(reverify="interval", reverify_interval="300", reverify_grace="60"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    server = AuthorizationServer.objects.get()
    assert (server.reverify_after, server.reverify_grace) == (300, 60)
    listed = admin_client.get("/admin/oauthgw/authorizationserver/").content.decode()
    assert "after 300 s, 60 s grace during an outage" in listed


def test_an_interval_is_required_with_the_interval_choice_and_refused_without_it(admin_client):
    missing = admin_client.post("/admin/oauthgw/authorizationserver/add/", server_form(reverify="interval"))
    stray = admin_client.post(
        "/admin/oauthgw/authorizationserver/add/", server_form(reverify="always", reverify_interval="30")
    )

    assert "reverify_interval" in missing.context["adminform"].form.errors
    assert "reverify_interval" in stray.context["adminform"].form.errors
    assert not AuthorizationServer.objects.exists()


def test_the_default_servers_panel_shows_its_reverification_setting(admin_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_REVERIFY": "always", "UPSTREAM_REVERIFY_GRACE": 120}

    page = admin_client.get("/admin/oauthgw/authorizationserver/").content.decode()

    assert "always, 120 s grace during an outage" in page


def test_a_client_has_a_maximum_session_age(admin_client, make_client):
    app = make_client()

    page = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk])).content.decode()

    assert 'name="session_max_age"' in page
