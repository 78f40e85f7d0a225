"""The client-secret hasher: one salted HMAC-SHA256, verified in constant time, in microseconds.

Each test pins one property a weaker hash would lack: the exact digest (a
published HMAC-SHA256 vector), the salt keying it, every character of the secret
counting, nothing of the secret or its digest in what the admin shows, and the
speed that is its reason to exist.
"""

import time

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from oauthgw import hashers
from oauthgw.hashers import ClientSecretHasher

SECRET = "kT9yR2mQ" * 16
# HMAC-SHA256 with the key "key" (RFC 2104's construction; the value Wikipedia and most libraries publish).
FOX = "The quick brown fox jumps over the lazy dog"
FOX_HMAC_SHA256 = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"


@pytest.fixture
def hasher():
    return ClientSecretHasher()


def digest_of(encoded: str) -> str:
    return encoded.rsplit("$", 1)[1]


def test_the_digest_is_hmac_sha256_keyed_with_the_salt(hasher):
    assert hasher.encode(FOX, "key") == f"oauthgw_hmac_sha256$key${FOX_HMAC_SHA256}"


def test_the_salt_keys_the_digest_itself(hasher):
    # Not only the stored prefix: the same secret under two salts has unrelated digests.
    assert digest_of(hasher.encode(SECRET, "salt1")) != digest_of(hasher.encode(SECRET, "salt2"))


def test_the_encoded_secret_verifies(hasher):
    assert hasher.verify(SECRET, hasher.encode(SECRET, "salt1"))


@pytest.mark.parametrize(
    "wrong",
    [
        "X" + SECRET[1:],  # the first character
        SECRET[:64] + "X" + SECRET[65:],  # one in the middle
        SECRET[:-1] + "X",  # the last
        SECRET[:-1],  # a prefix
        SECRET + "X",  # one more
        SECRET.upper(),
        "",
    ],
    ids=["first", "middle", "last", "prefix", "longer", "case", "empty"],
)
def test_every_character_of_the_secret_counts(hasher, wrong):
    assert not hasher.verify(wrong, hasher.encode(SECRET, "salt1"))


def test_verification_compares_in_constant_time(hasher, monkeypatch):
    compared = []
    real = hashers.constant_time_compare
    monkeypatch.setattr(hashers, "constant_time_compare", lambda a, b: compared.append((a, b)) or real(a, b))
    encoded = hasher.encode(SECRET, "salt1")

    hasher.verify(SECRET[:-1] + "X", encoded)

    assert [stored for stored, _ in compared] == [encoded]


def test_django_finds_the_hasher_by_name_and_checks_with_it():
    encoded = make_password(SECRET, hasher="oauthgw_hmac_sha256")

    assert isinstance(identify_hasher(encoded), ClientSecretHasher)
    assert check_password(SECRET, encoded)
    assert not check_password(SECRET[:-1] + "X", encoded)


def test_hash_of_another_algorithm_is_refused(hasher):
    with pytest.raises(ValueError):
        hasher.verify(SECRET, "pbkdf2_sha256$1000$salt$abc")


def test_what_the_admin_shows_holds_neither_the_secret_nor_the_salt_nor_the_digest(hasher):
    encoded = hasher.encode(SECRET, "a-long-random-salt")

    summary = hasher.safe_summary(encoded)

    shown = " ".join(str(value) for value in summary.values())
    assert summary["algorithm"] == "oauthgw_hmac_sha256"
    for hidden in (SECRET, "a-long-random-salt", digest_of(encoded)):
        assert hidden not in shown


def test_a_check_costs_microseconds_not_the_third_of_a_second_pbkdf2_would(hasher):
    # The reason this hasher exists: a token request verifies a client secret every time.
    encoded = hasher.encode(SECRET, "salt1")
    started = time.perf_counter()
    for _ in range(1000):
        hasher.verify(SECRET, encoded)

    assert time.perf_counter() - started < 1.0  # PBKDF2 with Django's default rounds: about 300 s
    assert not hasher.must_update(encoded)
