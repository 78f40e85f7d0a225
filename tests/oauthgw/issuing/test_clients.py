"""Client services: custom secrets, rotation with a grace period, enabling."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from oauthgw.hashers import MIN_CUSTOM_SECRET_LENGTH
from oauthgw.issuing.clients import (
    client_create,
    client_secret_matches,
    client_secret_rotate,
    client_set_enabled,
)
from oauthgw.models import Application

pytestmark = pytest.mark.django_db

LONG_SECRET = "a-custom-secret-that-is-long-enough-0123456789"


def create(**kwargs):
    return client_create(name="portal", grant_types=["client_credentials"], scopes=["hello"], **kwargs)


def test_a_custom_secret_shorter_than_the_minimum_is_refused():
    with pytest.raises(ValidationError, match=f"at least {MIN_CUSTOM_SECRET_LENGTH} characters"):
        create(secret="x" * (MIN_CUSTOM_SECRET_LENGTH - 1))

    assert not Application.objects.exists()


def test_a_custom_secret_of_the_minimum_length_is_stored_hashed():
    client, secret = create(secret="s" * MIN_CUSTOM_SECRET_LENGTH)

    stored = Application.objects.get(pk=client.pk).client_secret
    assert secret == "s" * MIN_CUSTOM_SECRET_LENGTH
    assert stored.startswith("oauthgw_hmac_sha256$")
    assert secret not in stored


def test_a_custom_secret_that_looks_like_a_hash_is_refused():
    # The toolkit would store it as it is, and then no secret would ever match.
    with pytest.raises(ValidationError, match="hash"):
        create(secret="oauthgw_hmac_sha256$somesalt$" + "0" * 64)


def test_rotation_without_grace_retires_the_old_secret_at_once(make_client):
    app = make_client()

    rotated, secret = client_secret_rotate(client=app)

    rotated.refresh_from_db()
    assert secret != app.raw_secret
    assert not client_secret_matches(rotated, app.raw_secret)
    assert rotated.previous_client_secret == ""
    assert rotated.secret_rotated is not None


def test_rotation_with_grace_accepts_the_old_secret_until_the_grace_ends(make_client):
    app = make_client()
    before = timezone.now()

    rotated, _ = client_secret_rotate(client=app, grace=timedelta(hours=1))

    rotated.refresh_from_db()
    assert client_secret_matches(rotated, app.raw_secret, now=before + timedelta(minutes=59))
    assert not client_secret_matches(rotated, app.raw_secret, now=before + timedelta(hours=1, seconds=1))
    assert not client_secret_matches(rotated, "not-the-old-secret", now=before)


def test_the_old_secret_is_kept_only_as_a_hash(make_client):
    app = make_client()

    rotated, _ = client_secret_rotate(client=app, grace=timedelta(hours=1))

    rotated.refresh_from_db()
    assert rotated.previous_client_secret.startswith("oauthgw_hmac_sha256$")
    assert app.raw_secret not in rotated.previous_client_secret


def test_rotating_again_replaces_the_secret_in_its_grace_period(make_client):
    app = make_client()
    first, first_secret = client_secret_rotate(client=app, grace=timedelta(hours=1))

    second, _ = client_secret_rotate(client=first, grace=timedelta(hours=1))

    assert client_secret_matches(second, first_secret)
    assert not client_secret_matches(second, app.raw_secret)


def test_rotation_with_a_short_custom_secret_changes_nothing(make_client):
    app = make_client()
    stored = app.client_secret

    with pytest.raises(ValidationError):
        client_secret_rotate(client=app, secret="too-short")

    assert Application.objects.get(pk=app.pk).client_secret == stored


def test_a_negative_grace_period_is_refused(make_client):
    with pytest.raises(ValueError, match="negative"):
        client_secret_rotate(client=make_client(), grace=timedelta(seconds=-1))


def test_set_enabled_reports_whether_anything_changed(make_client):
    app = make_client()

    assert client_set_enabled(client=app, enabled=False) is True
    assert client_set_enabled(client=app, enabled=False) is False
    assert Application.objects.get(pk=app.pk).enabled is False
