"""Blocking a resource owner at the gateway: their sessions end, their logins are refused like a wrong password."""

import pytest
from oauth2_provider.models import get_refresh_token_model

from oauthgw.issuing.resource_owners import resource_owner_block, resource_owner_unblock
from oauthgw.models import AuditEvent, ResourceOwner, UpstreamSession
from tests.oauthgw.conftest import PASSWORD, USERNAME

pytestmark = pytest.mark.django_db

RefreshToken = get_refresh_token_model()


def log_in(post_token, app, username: str = USERNAME):
    return post_token({"grant_type": "password", "username": username, "password": PASSWORD}, app=app)


def test_blocking_ends_every_session_of_the_owner_at_once(client, post_token, password_login, make_client):
    app = make_client()
    pairs = [password_login(app), password_login(make_client())]

    revoked = resource_owner_block(owner=ResourceOwner.objects.get(), reason="left the company")

    assert (revoked.access_tokens, revoked.refresh_tokens) == (2, 2)
    assert not UpstreamSession.objects.exists()
    for pair in pairs:
        assert client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}").status_code == 401
        refresh = post_token({"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}, app=app)
        assert refresh.status_code == 401


def test_a_blocked_owners_login_is_refused_before_the_upstream_is_asked_and_looks_like_a_wrong_password(
    post_token, password_login, make_client, upstream
):
    app = make_client()
    password_login(app)
    resource_owner_block(owner=ResourceOwner.objects.get())
    asked = len(upstream.calls)

    response = log_in(post_token, app, username=f"  {USERNAME.upper()} ")

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid credentials given."}
    assert len(upstream.calls) == asked
    assert AuditEvent.objects.order_by("-pk").first().outcome == "owner_blocked"


def test_an_owner_known_by_sub_logging_in_under_another_name_is_refused_after_the_upstream_vouched(
    post_token, make_client, upstream
):
    app = make_client()
    answer = {"access_token": "a", "token_type": "bearer", "sub": "u-7", "preferred_username": "alice"}
    upstream.mock.add("POST", upstream.url, json=answer)
    assert log_in(post_token, app, username="alice").status_code == 200
    resource_owner_block(owner=ResourceOwner.objects.get())

    response = log_in(post_token, app, username="alice@example.com")

    assert response.status_code == 401
    assert len(upstream.calls) == 2
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 0


def test_unblocking_lets_the_owner_log_in_again(post_token, password_login, make_client, upstream):
    app = make_client()
    password_login(app)
    owner = ResourceOwner.objects.get()
    resource_owner_block(owner=owner)

    assert resource_owner_unblock(owner=owner) is True
    upstream.accepts()
    assert log_in(post_token, app).status_code == 200


def test_a_refresh_that_raced_the_block_is_refused_at_the_next_refresh(post_token, password_login, make_client):
    # As if the block committed while a refresh held the token: the owner is blocked, the family still live.
    app = make_client()
    pair = password_login(app)
    ResourceOwner.objects.update(blocked=True)

    response = post_token({"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}, app=app)

    assert response.status_code == 401
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert AuditEvent.objects.order_by("-pk").first().outcome == "owner_blocked"


def test_other_owners_log_in_as_before(post_token, password_login, make_client, upstream):
    app = make_client()
    password_login(app, username="bob")
    resource_owner_block(owner=ResourceOwner.objects.get())

    upstream.accepts()
    assert log_in(post_token, app, username="alice").status_code == 200
