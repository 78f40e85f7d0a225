"""Thumbprints (RFC 7638) and access-token hashes (ath) match the RFCs' own examples."""

import pytest

from oauthgw.dpop.thumbprints import access_token_hash, jwk_thumbprint

RFC_7638_KEY = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
    "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu"
    "6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awa"
    "pJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
# RFC 9449 section 4.1 (figure 3) and section 6.1: the example proof's key and its jkt.
RFC_9449_KEY = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
# RFC 8037 appendix A.3.
RFC_8037_KEY = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}


@pytest.mark.parametrize(
    ("jwk", "thumbprint"),
    [
        (RFC_7638_KEY, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"),
        (RFC_9449_KEY, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"),
        (RFC_8037_KEY, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"),
    ],
)
def test_thumbprints_match_the_rfc_examples(jwk, thumbprint):
    assert jwk_thumbprint(jwk) == thumbprint


def test_members_outside_the_thumbprint_do_not_change_it():
    assert jwk_thumbprint({**RFC_9449_KEY, "kid": "k", "use": "sig", "alg": "ES256"}) == jwk_thumbprint(RFC_9449_KEY)


@pytest.mark.parametrize("algorithm", ["ES256", "ES512", "PS256", "EdDSA"])
def test_a_generated_keys_thumbprint_is_the_one_its_client_computes(dpop_keys, algorithm):
    key = dpop_keys[algorithm]

    assert jwk_thumbprint(key.jwk) == key.jkt


def test_ath_matches_the_rfc_9449_example():
    # Section 7.1, figures 13 and 14.
    assert (
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
        == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )
