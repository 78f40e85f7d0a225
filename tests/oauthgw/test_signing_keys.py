"""Key material and the JWKS: kids are thumbprints, only public halves are published, removed keys go."""

import json
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from oauthgw import signing_keys
from oauthgw.issuing.key_rotation import signing_key_ensure, signing_key_rotate
from oauthgw.models import SigningKey

# RFC 7638 section 3.1: an RSA key and its SHA-256 thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6"
    "qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJ"
    "zKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}


def test_a_kid_is_the_rfc_7638_thumbprint_of_the_public_key():
    assert signing_keys.jwk_thumbprint(RFC7638_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_new_key_material_publishes_only_the_public_half(algorithm):
    material = signing_keys.key_material_generate(algorithm)

    assert material.kid == signing_keys.jwk_thumbprint(material.public_jwk)
    assert material.public_jwk["alg"] == algorithm
    assert material.public_jwk["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(material.public_jwk)
    assert material.private_pem.startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.django_db
def test_the_private_key_is_stored_encrypted():
    signing_key_ensure()

    key = SigningKey.objects.get()
    assert "PRIVATE KEY" not in key.encrypted_private_key
    assert key.private_key.startswith("-----BEGIN PRIVATE KEY-----")
    assert key.kid not in key.encrypted_private_key


@pytest.mark.django_db
def test_a_key_past_its_publication_is_not_in_the_jwks():
    signing_key_ensure()
    rotation = signing_key_rotate()
    signing_keys.forget()

    after = rotation.previous_published_until + timedelta(seconds=1)

    assert [key["kid"] for key in signing_keys.jwks(after)["keys"]] == [rotation.key.kid]
    assert len(signing_keys.jwks(timezone.now())["keys"]) == 2


@pytest.mark.django_db
def test_a_kid_this_process_has_not_heard_of_is_read_again_from_the_database():
    signing_key_ensure()
    known = signing_keys.published_keys()
    # Another process rotated a moment ago; this one's copy predates it.
    new = signing_key_rotate().key

    assert new.kid not in [key.kid for key in known]
    # Within the second after its last read it does not read again for an unknown kid (a flood of
    # made-up kids costs at most a query a second), after that it does.
    assert signing_keys.verification_key(new.kid) is None
    a_second_later = time.monotonic() + signing_keys.UNKNOWN_KID_RELOAD_SECONDS
    with mock.patch.object(signing_keys.time, "monotonic", return_value=a_second_later):
        assert signing_keys.verification_key(new.kid) is not None


@pytest.mark.django_db
def test_the_jwks_document_is_json_of_public_members_only():
    signing_key_ensure()

    document = json.dumps(signing_keys.jwks())

    assert '"d"' not in document
    assert "PRIVATE" not in document
