"""Revoking everything of a resource owner or of a client (oauthgw.issuing.bulk_revocation)."""

import pytest
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.issuing.bulk_revocation import tokens_revoke_for_client, tokens_revoke_for_user
from oauthgw.models import ResourceOwner

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


def hello(client, access_token: str) -> int:
    return client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code


def owner(username: str):
    return ResourceOwner.objects.get(subject=username).user


def test_revoking_a_resource_owner_ends_all_their_tokens_at_every_client(client, password_login, make_client):
    first, second = make_client(), make_client()
    tokens = [password_login(first), password_login(second)]
    bystander = password_login(first, username="bob")

    revoked = tokens_revoke_for_user(user=owner("alice"))

    assert (revoked.access_tokens, revoked.refresh_tokens) == (2, 2)
    assert [hello(client, token["access_token"]) for token in tokens] == [401, 401]
    assert hello(client, bystander["access_token"]) == 200
    assert RefreshToken.objects.filter(user=owner("alice"), revoked__isnull=True).count() == 0


def test_a_revoked_owners_refresh_token_cannot_be_used(post_token, password_login, make_client):
    app = make_client()
    token = password_login(app)

    tokens_revoke_for_user(user=owner("alice"))

    response = post_token({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}, app=app)
    assert response.json()["error"] == "invalid_grant"


def test_revoking_a_client_ends_its_tokens_with_and_without_a_user(client, post_token, password_login, make_client):
    app, other = make_client(), make_client()
    user_token = password_login(app)
    machine_token = post_token({"grant_type": "client_credentials"}, app=app).json()
    others_token = password_login(other)

    revoked = tokens_revoke_for_client(client=app)

    assert (revoked.access_tokens, revoked.refresh_tokens) == (2, 1)
    assert hello(client, user_token["access_token"]) == 401
    assert hello(client, machine_token["access_token"]) == 401
    assert hello(client, others_token["access_token"]) == 200


def test_revoking_nothing_is_zero(make_client):
    assert tokens_revoke_for_client(client=make_client()).total == 0
