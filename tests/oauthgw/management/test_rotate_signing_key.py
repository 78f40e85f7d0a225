"""``manage.py rotate_signing_key``: what it did, in words an operator can act on."""

import io

import pytest
from django.core.management import call_command

from oauthgw.issuing.key_rotation import signing_key_ensure
from oauthgw.models import SigningKey

pytestmark = pytest.mark.django_db


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_signing_key", *args, stdout=out)
    return out.getvalue()


def test_it_says_when_the_new_key_signs_and_until_when_the_old_one_is_published():
    signing_key_ensure()

    printed = rotate()

    new = SigningKey.objects.order_by("-generation").first()
    assert f"New key {new.kid} (ES256): published now, signs from" in printed
    assert "The previous key stays published until" in printed
    assert SigningKey.objects.count() == 2


def test_on_a_fresh_installation_the_first_key_signs_at_once():
    printed = rotate()

    key = SigningKey.objects.get()
    assert key.signing_from == key.created
    assert "previous" not in printed


def test_compromised_unpublishes_the_old_key_now():
    signing_key_ensure()
    old = SigningKey.objects.get()

    rotate("--compromised")

    old.refresh_from_db()
    assert old.published_until <= SigningKey.objects.exclude(pk=old.pk).get().signing_from
