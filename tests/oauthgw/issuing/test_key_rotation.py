"""Signing-key rotation: publish first, sign later, unpublish after the last token; and when it cannot sign."""

import logging
from datetime import timedelta
from unittest import mock

import jwt
import pytest
from django.utils import timezone

from oauthgw import signing_keys
from oauthgw.issuing import key_rotation
from oauthgw.issuing.key_rotation import CLOCK_LEEWAY, signing_key_rotate
from oauthgw.models import SigningKey
from tests.oauthgw.jwt_helpers import published_jwks

pytestmark = pytest.mark.django_db

DELAY = timedelta(seconds=3600)  # SIGNING_KEY_PUBLISH_SECONDS' default


def issued_kid(post_token, app) -> str:
    token = post_token({"grant_type": "client_credentials"}, app=app).json()["access_token"]
    return jwt.get_unverified_header(token)["kid"]


def jwks_kids(client) -> list[str]:
    return [key.key_id for key in published_jwks(client).keys]


def later(moment):
    """Run the gateway's clock at ``moment``."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


@pytest.fixture
def jwt_client(make_client):
    return make_client(token_format="jwt", grant_types="client_credentials")


def test_the_first_token_creates_a_key_that_signs_at_once(post_token, jwt_client):
    kid = issued_kid(post_token, jwt_client)

    key = SigningKey.objects.get()
    assert key.kid == kid
    assert key.signing_from <= timezone.now()


def test_a_rotated_in_key_is_published_at_once_but_signs_only_after_the_delay(client, post_token, jwt_client):
    old = issued_kid(post_token, jwt_client)

    new = signing_key_rotate().key
    signing_keys.forget()  # as every process does within seconds (KEY_SET_SECONDS)

    assert set(jwks_kids(client)) == {old, new.kid}
    assert issued_kid(post_token, jwt_client) == old
    signing_keys.forget()
    with later(new.signing_from + timedelta(seconds=1)):
        assert issued_kid(post_token, jwt_client) == new.kid


def test_the_old_key_stays_published_until_its_last_token_expired_then_goes(client, post_token, jwt_client):
    old = issued_kid(post_token, jwt_client)
    rotated_at = timezone.now()

    rotation = signing_key_rotate(now=rotated_at)

    handover = rotated_at + DELAY
    expected_end = handover + timedelta(seconds=300) + CLOCK_LEEWAY
    assert rotation.previous_published_until == expected_end
    with later(expected_end - timedelta(seconds=1)):
        signing_keys.forget()
        assert old in jwks_kids(client)
    with later(expected_end):
        signing_keys.forget()
        assert jwks_kids(client) == [rotation.key.kid]


def test_the_old_key_stays_published_for_the_longest_jwt_lifetime_of_any_client(post_token, jwt_client, make_client):
    make_client(token_format="jwt", access_token_lifetime=1800)
    make_client(token_format="opaque", access_token_lifetime=86400)
    issued_kid(post_token, jwt_client)
    rotated_at = timezone.now()

    rotation = signing_key_rotate(now=rotated_at)

    assert rotation.previous_published_until == rotated_at + DELAY + timedelta(seconds=1800) + CLOCK_LEEWAY


def test_a_token_signed_near_the_end_of_its_keys_publication_ends_before_it(post_token, make_client):
    issued_kid(post_token, make_client(token_format="jwt"))
    rotation = signing_key_rotate()
    long_lived = make_client(token_format="jwt", access_token_lifetime=7200)
    # Just before the handover the old key still signs, but leaves the JWKS 300 s + leeway later:
    # a token of the client whose lifetime grew during the handover is cut short.
    moment = rotation.key.signing_from - timedelta(seconds=10)
    signing_keys.forget()

    with later(moment):
        body = post_token({"grant_type": "client_credentials"}, app=long_lived).json()

    assert body["expires_in"] == 310


def test_rotation_deletes_keys_no_longer_published(post_token, jwt_client):
    first = issued_kid(post_token, jwt_client)
    rotation = signing_key_rotate()

    signing_key_rotate(now=rotation.previous_published_until + timedelta(seconds=1))

    assert not SigningKey.objects.filter(kid=first).exists()


def test_a_compromised_rotation_signs_with_the_new_key_at_once_and_unpublishes_the_rest(client, post_token, jwt_client):
    old_token = post_token({"grant_type": "client_credentials"}, app=jwt_client).json()["access_token"]

    new = signing_key_rotate(compromised=True).key
    signing_keys.forget()

    assert jwks_kids(client) == [new.kid]
    assert issued_kid(post_token, jwt_client) == new.kid
    assert client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {old_token}").status_code == 401


def test_two_rotations_in_a_row_leave_one_key_signing_at_any_time(post_token, jwt_client):
    issued_kid(post_token, jwt_client)
    first = signing_key_rotate().key
    second = signing_key_rotate(now=timezone.now() + timedelta(seconds=5)).key

    for moment in (first.signing_from, second.signing_from - timedelta(seconds=1), second.signing_from):
        signers = [key for key in SigningKey.objects.all() if key_rotation._signs(key, moment)]
        assert len(signers) == 1
    assert key_rotation._signs(SigningKey.objects.get(pk=second.pk), second.signing_from)


def test_rsa_keys_when_configured(client, post_token, jwt_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "JWT_SIGNING_ALGORITHM": "RS256"}

    token = post_token({"grant_type": "client_credentials"}, app=jwt_client).json()["access_token"]

    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert published_jwks(client).keys[0].key_type == "RSA"
    assert client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


# --- When tokens cannot be signed -------------------------------------------------------------


def test_a_private_key_no_encryption_key_opens_is_503_not_500_and_logs_no_key(post_token, jwt_client, settings, caplog):
    issued_kid(post_token, jwt_client)
    stored = SigningKey.objects.get().encrypted_private_key
    # The operator replaced OAUTHGW_ENCRYPTION_KEYS without keeping the old key.
    settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": "Ay7mi4UFKmXhUuVQwy2BT2ZLJJUr9U0eyhxqlSzDLNI="}
    signing_keys.forget()
    caplog.set_level(logging.INFO)

    response = post_token({"grant_type": "client_credentials"}, app=jwt_client)

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert "Retry-After" in response
    assert "cannot be decrypted" in caplog.text
    assert stored not in caplog.text
