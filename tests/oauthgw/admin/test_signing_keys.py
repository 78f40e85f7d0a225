"""The signing keys' admin: the schedule, rotation from the admin, and never a private key."""

import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from jwt.algorithms import ECAlgorithm

from oauthgw import signing_keys
from oauthgw.issuing.key_rotation import signing_key_ensure
from oauthgw.models import SigningKey
from tests.oauthgw.admin.conftest import messages_of

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:oauthgw_signingkey_changelist")
ROTATE = reverse("admin:oauthgw_signingkey_rotate")


def private_parts(key: SigningKey) -> list[str]:
    """The private key as PEM lines, as the JWK member ``d`` and as stored: what must never be shown."""
    pem = key.private_key
    d = ECAlgorithm.to_jwk(serialization.load_pem_private_key(pem.encode(), password=None), as_dict=True)["d"]
    pem_body = [line for line in pem.splitlines() if not line.startswith("-----")]
    return [*pem_body, d, key.encrypted_private_key]


def test_the_list_says_which_key_signs(admin_client):
    signing_key_ensure()

    page = admin_client.get(CHANGELIST).content.decode()

    assert SigningKey.objects.get().kid in page
    assert "signing" in page


def test_no_admin_page_shows_any_part_of_the_private_key(admin_client):
    signing_key_ensure()
    key = SigningKey.objects.get()

    pages = [
        admin_client.get(CHANGELIST).content.decode(),
        admin_client.get(reverse("admin:oauthgw_signingkey_change", args=[key.pk])).content.decode(),
        admin_client.get(ROTATE).content.decode(),
    ]

    assert key.kid in pages[1]
    for part in private_parts(key):
        assert all(part not in page for page in pages)


def test_rotating_in_the_admin_publishes_a_key_that_signs_after_the_delay(admin_client):
    signing_key_ensure()
    old = SigningKey.objects.get()

    response = admin_client.post(ROTATE, {}, follow=True)

    new = SigningKey.objects.exclude(pk=old.pk).get()
    assert (new.signing_from - new.created).total_seconds() == 3600
    old.refresh_from_db()
    assert old.signing_until == new.signing_from
    assert any(new.kid in message and "signs from" in message for message in messages_of(response))
    assert new.kid in LogEntry.objects.get().get_change_message()


def test_a_compromised_rotation_from_the_admin_unpublishes_the_old_key_now(admin_client):
    signing_key_ensure()
    old = SigningKey.objects.get()

    admin_client.post(ROTATE, {"compromised": "on"})

    signing_keys.forget()
    assert old.kid not in [key.kid for key in signing_keys.published_keys()]


def test_the_rotate_action_leads_to_the_rotation_page(admin_client):
    signing_key_ensure()

    response = admin_client.post(
        CHANGELIST, {"action": "rotate_keys", "_selected_action": [SigningKey.objects.get().pk]}
    )

    assert response.status_code == 302
    assert response["Location"] == ROTATE


def test_keys_are_neither_added_edited_nor_deleted_by_hand(admin_client):
    signing_key_ensure()
    key = SigningKey.objects.get()

    assert admin_client.get(reverse("admin:oauthgw_signingkey_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:oauthgw_signingkey_delete", args=[key.pk]), {"post": "yes"}).status_code == 403
    )
    assert SigningKey.objects.filter(pk=key.pk).exists()


def test_staff_without_the_permission_cannot_rotate(client, django_user_model):
    staff = django_user_model.objects.create_user("viewer", password="a long enough password", is_staff=True)
    client.force_login(staff)

    assert client.post(ROTATE, {}).status_code == 403
    assert not SigningKey.objects.exists()
