"""DPoP bindings: written with the access token, read with a public client's refresh token, gone with the token."""

import hashlib
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.dpop.bindings import NOT_LIVE, UNKNOWN, dpop_binding_save, dpop_bindings_purge, refresh_token_binding
from oauthgw.issuing.retention import expired_rows_purge
from oauthgw.models import DPoPBinding
from tests.oauthgw.code_flow import code_client, sign_in_for_code
from tests.oauthgw.conftest import FORM, TOKEN_URL
from tests.support.dpop import DPoPKey

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
HTU = "http://testserver/oauth2/token"


def checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public_pair(client, upstream, key: DPoPKey | None) -> dict:
    """A public client's access and refresh token from a code exchange, with a proof by ``key`` if given."""
    app = code_client(client_type="public")
    authorization, callback = sign_in_for_code(client, upstream, app)
    form = {
        "grant_type": "authorization_code",
        "client_id": app.client_id,
        "code": callback["code"],
        "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier,
    }
    extra = {"HTTP_DPOP": key.proof("POST", HTU)} if key is not None else {}
    response = client.post(TOKEN_URL, urlencode(form), content_type=FORM, **extra)
    assert response.status_code == 200, response.content
    return {"app": app, **response.json()}


def test_a_saved_binding_is_read_back_through_the_refresh_token_issued_with_it(client, upstream):
    key = DPoPKey("ES256")
    pair = public_pair(client, upstream, key)

    assert refresh_token_binding(token=pair["refresh_token"]).jkt == key.jkt


def test_an_unbound_refresh_token_is_live_and_bound_to_nothing(client, upstream):
    pair = public_pair(client, upstream, None)

    binding = refresh_token_binding(token=pair["refresh_token"])

    assert (binding.found, binding.jkt, binding.unknown) == (True, None, False)


def test_an_unknown_or_rotated_refresh_token_is_not_live(client, upstream):
    pair = public_pair(client, upstream, None)
    RefreshToken.objects.update(revoked=timezone.now())

    assert refresh_token_binding(token=pair["refresh_token"]) is NOT_LIVE
    assert refresh_token_binding(token="no-such-token") is NOT_LIVE


def test_a_live_refresh_token_whose_access_token_is_gone_cannot_say_its_key(client, upstream):
    pair = public_pair(client, upstream, DPoPKey("ES256"))
    RefreshToken.objects.update(access_token=None)

    assert refresh_token_binding(token=pair["refresh_token"]) is UNKNOWN


def test_deleting_a_token_with_the_orm_deletes_its_binding(client, upstream):
    public_pair(client, upstream, DPoPKey("ES256"))

    AccessToken.objects.get().revoke()

    assert not DPoPBinding.objects.exists()


def test_the_purge_deletes_bindings_left_by_the_rotations_single_delete_and_keeps_the_live_ones(client, upstream):
    key = DPoPKey("ES256")
    pair = public_pair(client, upstream, key)
    form = {"grant_type": "refresh_token", "client_id": pair["app"].client_id, "refresh_token": pair["refresh_token"]}
    refreshed = client.post(TOKEN_URL, urlencode(form), content_type=FORM, HTTP_DPOP=key.proof("POST", HTU)).json()
    # The rotated access token went with one DELETE of its own; its binding stayed behind.
    assert DPoPBinding.objects.count() == 2

    report = expired_rows_purge(now=timezone.now())

    (kept,) = DPoPBinding.objects.all()
    assert report.dpop_bindings == 1
    assert kept.access_token.token_checksum == checksum(refreshed["access_token"])
    assert dpop_bindings_purge() == 0


def test_a_binding_is_one_insert(make_client, django_assert_num_queries):
    token = AccessToken.objects.create(application=make_client(), token_checksum="c" * 64, expires=timezone.now())

    with django_assert_num_queries(1):
        dpop_binding_save(access_token_id=token.pk, jkt="j" * 43)

    assert DPoPBinding.objects.get().jkt == "j" * 43
