"""The algorithms a proof may use: asymmetric, configured, each verified by PyJWT with its own key type."""

import jwt
import pytest
from jwt.algorithms import HMACAlgorithm, NoneAlgorithm

from oauthgw.dpop.keys import ALGORITHMS, configured_algorithms, public_key, signing_algorithms


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_every_supported_algorithm_is_an_asymmetric_one_pyjwt_verifies(algorithm):
    assert not isinstance(jwt.get_algorithm_by_name(algorithm), HMACAlgorithm | NoneAlgorithm)


def test_the_default_list_is_the_issues_and_none_or_hmac_are_not_supported():
    assert signing_algorithms() == ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA")
    assert {"none", "HS256", "HS384", "HS512"}.isdisjoint(ALGORITHMS)


@pytest.mark.parametrize("value", ["ES256, EdDSA", "ES256 EdDSA", " ES256,,EdDSA ", ["ES256", "EdDSA"]])
def test_the_setting_is_a_list_or_names_separated_by_commas_or_spaces(settings, value):
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_SIGNING_ALGORITHMS": value}

    assert signing_algorithms() == ("ES256", "EdDSA")


def test_names_that_are_not_supported_are_never_signing_algorithms(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_SIGNING_ALGORITHMS": "HS256,none,ES256,es384"}

    assert configured_algorithms() == ["HS256", "none", "ES256", "es384"]
    assert signing_algorithms() == ("ES256",)


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
def test_each_algorithms_key_verifies_its_signatures(dpop_keys, algorithm):
    key = dpop_keys[algorithm]
    signature = jwt.get_algorithm_by_name(algorithm).sign(b"message", key.private_key)

    verifier = public_key(key.jwk, algorithm)

    assert jwt.get_algorithm_by_name(algorithm).verify(b"message", verifier, signature)
