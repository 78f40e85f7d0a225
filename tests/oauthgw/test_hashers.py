"""The client-secret hasher: one salted HMAC-SHA256, verified in constant time."""

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from oauthgw.hashers import ClientSecretHasher

SECRET = "kT9yR2mQ" * 16


@pytest.fixture
def hasher():
    return ClientSecretHasher()


def test_encoded_secret_verifies(hasher):
    encoded = hasher.encode(SECRET, "salt1")

    assert hasher.verify(SECRET, encoded)


def test_wrong_secret_does_not_verify(hasher):
    encoded = hasher.encode(SECRET, "salt1")

    assert not hasher.verify(SECRET[:-1] + "X", encoded)


def test_different_salt_gives_a_different_encoding(hasher):
    assert hasher.encode(SECRET, "salt1") != hasher.encode(SECRET, "salt2")


def test_encoding_names_the_algorithm_and_hides_the_secret(hasher):
    encoded = hasher.encode(SECRET, "salt1")

    assert encoded.startswith("oauthgw_hmac_sha256$salt1$")
    assert SECRET not in encoded


def test_django_finds_the_hasher_by_name_and_checks_with_it():
    encoded = make_password(SECRET, hasher="oauthgw_hmac_sha256")

    assert isinstance(identify_hasher(encoded), ClientSecretHasher)
    assert check_password(SECRET, encoded)
    assert not check_password("not-the-secret", encoded)


def test_hash_of_another_algorithm_is_refused(hasher):
    with pytest.raises(ValueError):
        hasher.verify(SECRET, "pbkdf2_sha256$1000$salt$abc")


def test_safe_summary_masks_salt_and_hash(hasher):
    encoded = hasher.encode(SECRET, "saltsaltsalt")
    digest = encoded.rsplit("$", 1)[1]

    summary = hasher.safe_summary(encoded)

    assert summary["algorithm"] == "oauthgw_hmac_sha256"
    assert summary["salt"] != "saltsaltsalt"
    assert summary["hash"] != digest
