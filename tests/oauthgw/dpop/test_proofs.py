"""A DPoP proof is accepted when it follows every rule of RFC 9449 section 4.3, and refused with a reason otherwise."""

import hashlib
import json
import logging
import math
import re

import jwt
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from oauthgw.dpop.nonces import dpop_nonce_issue, dpop_nonce_valid
from oauthgw.dpop.proofs import DPoPProof, dpop_proof_verify
from oauthgw.exceptions import DPoPError, InvalidDPoPProof, UseDPoPNonce
from tests.oauthgw.dpop.conftest import NOW, RESOURCE_URL, TOKEN_URL
from tests.support.dpop import OMIT, DPoPKey, b64url

pytestmark = pytest.mark.django_db

ACCESS_TOKEN = "an-access-token"
DEFAULT_ALGORITHMS = ["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA"]


def make(key: DPoPKey, method: str = "POST", url: str = TOKEN_URL, **options) -> str:
    options.setdefault("iat", int(NOW))
    return key.proof(method, url, **options)


def verify(proof: str | list[str], *, method: str = "POST", url: str = TOKEN_URL, **options) -> DPoPProof:
    return dpop_proof_verify(proof if isinstance(proof, list) else [proof], method=method, url=url, now=NOW, **options)


def refusal(proof: str | list[str], **options) -> str:
    with pytest.raises(InvalidDPoPProof) as refused:
        verify(proof, **options)
    return refused.value.description


# --- Accepted ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", DEFAULT_ALGORITHMS)
def test_a_valid_proof_of_each_default_algorithm_gives_the_keys_thumbprint(dpop_keys, algorithm):
    key = dpop_keys[algorithm]

    proof = verify(make(key, jti="proof-1"))

    assert (proof.jkt, proof.jti, proof.htm, proof.algorithm) == (key.jkt, "proof-1", "POST", algorithm)
    assert (proof.iat, proof.htu, proof.ath, proof.nonce) == (int(NOW), TOKEN_URL, None, None)


def test_an_ed448_key_is_accepted_with_eddsa():
    key = DPoPKey("EdDSA", curve="Ed448")

    assert verify(make(key)).jkt == key.jkt


@pytest.mark.parametrize("algorithm", ["RS384", "RS512"])
def test_an_algorithm_outside_the_configured_list_is_refused_until_configured(settings, dpop_keys, algorithm):
    proof = make(dpop_keys[algorithm])
    assert "alg" in refusal(proof)

    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_SIGNING_ALGORITHMS": f"ES256, {algorithm}"}

    assert verify(proof).algorithm == algorithm


# RFC 9449 figures 3 and 13: a token request's proof and a resource request's, by the same key.
RFC_PROOF_HEADER = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0Rs"
    "cEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
)
RFC_TOKEN_PROOF = (
    RFC_PROOF_HEADER
    + ".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwia"
    "WF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC_RESOURCE_PROOF = (
    RFC_PROOF_HEADER
    + ".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0"
    "ZWRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9"
    ".2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
RFC_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"


def test_the_rfc_token_request_proof_is_accepted_at_its_token_endpoint():
    proof = dpop_proof_verify([RFC_TOKEN_PROOF], method="POST", url="https://server.example.com/token", now=1562262617)

    assert (proof.jkt, proof.jti, proof.iat) == (RFC_JKT, "-BwC3ESc6acc2lTc", 1562262616)


def test_the_rfc_resource_request_proof_is_accepted_with_its_access_token_only():
    def at_resource(token: str) -> DPoPProof:
        return dpop_proof_verify(
            [RFC_RESOURCE_PROOF],
            method="GET",
            url="https://resource.example.org/protectedresource",
            access_token=token,
            now=1562262619,
        )

    with pytest.raises(InvalidDPoPProof, match="ath"):
        at_resource("another token")
    assert at_resource(RFC_ACCESS_TOKEN).jkt == RFC_JKT


@pytest.mark.parametrize(
    ("htu", "request_url"),
    [
        ("HTTPS://Gateway.EXAMPLE/oauth2/token", TOKEN_URL),
        ("https://gateway.example:443/oauth2/token", TOKEN_URL),
        ("http://gateway.example:80/oauth2/token", "http://gateway.example/oauth2/token"),
        ("https://gateway.example:/oauth2/token", TOKEN_URL),
        (TOKEN_URL + "?debug=1#part", TOKEN_URL),
        (TOKEN_URL, TOKEN_URL + "?grant_type=x"),
        ("https://gateway.example/oauth2/./x/../token", TOKEN_URL),
        ("https://gateway.example/%6Fauth2/token", TOKEN_URL),
        ("https://gateway.example/a%2fb/%7euser", "https://gateway.example/a%2Fb/~user"),
        ("https://gateway.example", "https://gateway.example/"),
        ("https://gateway.example/a/..", "https://gateway.example/"),
        ("https://[::1]:8443/token", "https://[::1]:8443/token"),
        ("http://127.0.0.1:8000/token", "http://127.0.0.1:8000/token"),
    ],
)
def test_htu_is_compared_after_normalisation_without_query_and_fragment(es256, htu, request_url):
    assert verify(make(es256, url=htu), url=request_url).jkt == es256.jkt


def test_a_fractional_iat_and_unknown_claims_are_accepted(es256):
    proof = verify(make(es256, iat=NOW - 0.25, nested={"a": [1, 2]}, aud="anything"))

    assert proof.iat == NOW - 0.25


@pytest.mark.parametrize("offset", [-300, 30])
def test_the_window_includes_its_edges(es256, offset):
    assert verify(make(es256, iat=int(NOW) + offset)).iat == int(NOW) + offset


def test_remote_key_headers_are_ignored_and_the_jwk_alone_counts(es256):
    header = {"kid": "k1", "jku": "http://127.0.0.1:9/jwks", "x5u": "http://127.0.0.1:9/cert", "x5c": ["garbage"]}

    assert verify(make(es256, header=header)).jkt == es256.jkt


def test_an_ath_without_an_access_token_is_accepted_at_the_token_endpoint(es256):
    # The token endpoint presents no access token: nothing to compare the ath with.
    proof = verify(make(es256, access_token="a token the client still held"))

    assert proof.ath is not None


# --- Refused -----------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [[], [""], ["  "]])
def test_a_request_without_a_proof_is_refused(headers):
    assert "exactly one DPoP header" in refusal(headers)


def test_two_proofs_are_refused_as_two_headers_or_joined_in_one(es256):
    first, second = make(es256), make(es256)

    assert "exactly one DPoP header" in refusal([first, second])
    assert "exactly one DPoP header" in refusal([f"{first}, {second}"])


def test_a_proof_longer_than_8_kib_is_refused_before_it_is_parsed(es256):
    huge_jwk = {**es256.jwk, "padding": "x" * 8000}

    assert "longer than 8192" in refusal(make(es256, header={"jwk": huge_jwk}))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not-a-jwt", "compact serialization"),
        ("a.b.c.d", "compact serialization"),
        ("!!!.e30.AA", "header is not base64url"),
        ("e30=.e30.AA", "header is not base64url"),
        (b64url(b"\xff\xfe") + ".e30.AA", "header is not base64url"),
        (b64url(b"[1, 2]") + ".e30.AA", "header is not a JSON object"),
        (b64url(b"[" * 3000 + b"]" * 3000) + ".e30.AA", "header is not base64url"),
    ],
)
def test_malformed_proofs_are_refused(value, reason):
    assert reason in refusal(value)


def test_a_header_or_payload_naming_a_member_twice_is_refused(es256):
    header = json.dumps(es256.header())[:-1] + ', "typ": "JWT"}'
    claims = json.dumps(es256.claims("POST", TOKEN_URL, iat=int(NOW)))[:-1] + ', "htm": "GET"}'

    assert "header is not base64url-encoded JSON" in refusal(
        es256.sign(header.encode(), es256.claims("POST", TOKEN_URL))
    )
    assert "payload is not base64url-encoded JSON" in refusal(es256.sign(es256.header(), claims.encode()))


@pytest.mark.parametrize("typ", [OMIT, "JWT", "DPOP+JWT", "application/dpop+jwt", 1])
def test_a_typ_other_than_dpop_jwt_is_refused(es256, typ):
    assert "typ is not dpop+jwt" in refusal(make(es256, header={"typ": typ}))


@pytest.mark.parametrize("crit", [["exp"], [], ["b64"]])
def test_critical_header_parameters_are_refused(es256, crit):
    assert "crit" in refusal(make(es256, header={"crit": crit, "b64": False, "exp": 1}))


def test_an_unsigned_proof_is_refused(es256):
    header = b64url(json.dumps(es256.header(alg="none")).encode())
    payload = make(es256).split(".")[1]

    assert "alg is not one" in refusal(f"{header}.{payload}.")


@pytest.mark.parametrize("algorithm", ["HS256", "HS512"])
def test_a_symmetric_algorithm_is_refused_even_when_configured(settings, es256, algorithm):
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_SIGNING_ALGORITHMS": f"ES256,{algorithm}"}
    secret = b"a shared secret, sixty-four bytes long as RFC 7518 wants for HS512"[:64]
    secret_jwk = {"kty": "oct", "k": b64url(secret)}
    header = {"typ": "dpop+jwt", "alg": algorithm, "jwk": secret_jwk}
    claims = es256.claims("POST", TOKEN_URL, iat=int(NOW))
    proof = jwt.encode(claims, secret, algorithm=algorithm, headers=header)

    assert "alg is not one" in refusal(proof)


@pytest.mark.parametrize("alg", [OMIT, 256, ["ES256"], "es256", "ES256K"])
def test_a_missing_or_unknown_alg_is_refused(es256, alg):
    assert "alg is not one" in refusal(make(es256, header={"alg": alg}))


@pytest.mark.parametrize("jwk", [OMIT, "a key", ["EC"], None])
def test_a_proof_without_a_jwk_object_is_refused(es256, jwk):
    assert "no jwk" in refusal(make(es256, header={"jwk": jwk}))


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
def test_a_jwk_with_a_private_member_is_refused(es256, member):
    reason = refusal(make(es256, header={"jwk": {**es256.jwk, member: "AQAB"}}))

    assert f"private key members ({member})" in reason


def test_a_real_private_jwk_is_refused(es256):
    private = es256.private_key.private_numbers().private_value.to_bytes(32, "big")

    assert "private key members (d)" in refusal(make(es256, header={"jwk": {**es256.jwk, "d": b64url(private)}}))


def test_a_key_of_another_type_or_curve_than_the_alg_is_refused(dpop_keys):
    es256, es384, rs256 = dpop_keys["ES256"], dpop_keys["ES384"], dpop_keys["RS256"]

    assert "not an EC key" in refusal(make(es256, header={"jwk": rs256.jwk}))
    assert "not on P-256" in refusal(make(es256, header={"jwk": es384.jwk}))
    assert "not an RSA key" in refusal(make(rs256, header={"jwk": es256.jwk}))
    assert "not an OKP key" in refusal(make(dpop_keys["EdDSA"], header={"jwk": es256.jwk}))


def test_a_jwk_naming_another_alg_is_refused(es256):
    assert "another alg" in refusal(make(es256, header={"jwk": {**es256.jwk, "alg": "ES384"}}))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"x": OMIT}, "has no x"),
        ({"y": 12}, "has no y"),
        ({"x": "AAAA"}, "not 32 octets"),
        ({"x": "not base64!"}, "not canonical base64url"),
        ({"x": b64url(bytes(32)) + "="}, "not canonical base64url"),
        ({"x": b64url(bytes(32)), "y": b64url(bytes(32))}, "not a valid public key"),
    ],
)
def test_a_malformed_ec_jwk_is_refused(es256, change, reason):
    jwk = {name: value for name, value in {**es256.jwk, **change}.items() if value is not OMIT}

    assert reason in refusal(make(es256, header={"jwk": jwk}))


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"n": _uint(2**1023 + 1)}, "2048 to 8192 bits"),
        ({"n": _uint(2**8192 + 1)}, "2048 to 8192 bits"),
        ({"e": _uint(65536)}, "unusable exponent"),
        ({"e": _uint(1)}, "unusable exponent"),
        ({"e": _uint(2**256 + 1)}, "unusable exponent"),
        ({"e": "AAEAAQ"}, "not a minimal unsigned integer"),
        ({"e": ""}, "not a minimal unsigned integer"),
    ],
)
def test_an_rsa_jwk_of_unusable_size_or_exponent_is_refused(dpop_keys, change, reason):
    rs256 = dpop_keys["RS256"]

    assert reason in refusal(make(rs256, header={"jwk": {**rs256.jwk, **change}}))


def test_an_okp_jwk_on_another_curve_is_refused(dpop_keys):
    eddsa = dpop_keys["EdDSA"]

    assert "Ed25519 or Ed448" in refusal(make(eddsa, header={"jwk": {**eddsa.jwk, "crv": "X25519"}}))
    assert "not 32 octets" in refusal(make(eddsa, header={"jwk": {**eddsa.jwk, "x": b64url(bytes(31))}}))


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused(dpop_keys):
    es256, other = dpop_keys["ES256"], DPoPKey("ES256")

    assert "signature does not verify" in refusal(make(other, header={"jwk": es256.jwk}))


def test_a_proof_whose_payload_was_replaced_is_refused(es256):
    header, _, signature = make(es256).split(".")
    _, payload, _ = make(es256, jti="another").split(".")

    assert "signature does not verify" in refusal(f"{header}.{payload}.{signature}")


@pytest.mark.parametrize("signature", ["", "AA", b64url(bytes(64)), b64url(bytes(65))])
def test_a_proof_with_a_malformed_signature_is_refused(es256, signature):
    header, payload, _ = make(es256).split(".")

    assert "signature" in refusal(f"{header}.{payload}.{signature}")


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
def test_a_proof_missing_a_required_claim_is_refused(es256, claim):
    assert f"no {claim} claim" in refusal(make(es256, **{claim: OMIT}))


@pytest.mark.parametrize("jti", ["", "x" * 257, "with space", "é", 42, None, ["a"]])
def test_a_jti_that_is_not_a_short_ascii_string_is_refused(es256, jti):
    assert "jti must be" in refusal(make(es256, jti=jti))


@pytest.mark.parametrize("htm", ["GET", "post", "", None, ["POST"]])
def test_a_proof_for_another_method_is_refused(es256, htm):
    assert "htm is not this request's method" in refusal(make(es256, htm=htm))


@pytest.mark.parametrize(
    "htu",
    [
        "https://gateway.example/oauth2/token/",
        "https://gateway.example/oauth2/other",
        "https://evil.example/oauth2/token",
        "http://gateway.example/oauth2/token",
        "https://gateway.example:8443/oauth2/token",
        "https://gateway.example/OAUTH2/token",
    ],
)
def test_a_proof_for_another_uri_is_refused(es256, htu):
    assert "htu is not this request's URI" in refusal(make(es256, htu=htu))


@pytest.mark.parametrize(
    "htu",
    [
        "/oauth2/token",
        "ftp://gateway.example/oauth2/token",
        "https://user@gateway.example/oauth2/token",
        "https://gateway.example/oauth2/to ken",
        "https://gateway.example/%zz",
        "https://gateway.example:99999/",
        "https://[::1/",
        "https:///oauth2/token",
        "",
        7,
        None,
    ],
)
def test_an_htu_that_is_not_an_http_uri_is_refused(es256, htu):
    assert "htu is not an http(s) URI" in refusal(make(es256, htu=htu))


@pytest.mark.parametrize("iat", ["1800000000", True, None, [NOW], {"t": NOW}])
def test_an_iat_that_is_not_a_number_is_refused(es256, iat):
    assert "iat is not a number" in refusal(make(es256, iat=iat))


def test_an_infinite_or_nan_iat_is_refused(es256):
    claims = json.dumps(es256.claims("POST", TOKEN_URL, iat=0))

    assert "iat is not a number" in refusal(
        es256.sign(es256.header(), claims.replace('"iat": 0', '"iat": 1e400').encode())
    )
    assert "not base64url-encoded JSON" in refusal(
        es256.sign(es256.header(), claims.replace('"iat": 0', '"iat": NaN').encode())
    )


def test_a_proof_older_than_the_maximum_age_is_refused(es256):
    assert "too old" in refusal(make(es256, iat=int(NOW) - 301))


def test_a_proof_from_the_future_is_refused(es256):
    assert "from the future" in refusal(make(es256, iat=int(NOW) + 31))


def test_the_window_follows_the_settings(settings, es256):
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_PROOF_MAX_AGE": 60, "DPOP_CLOCK_SKEW": 5}

    assert "too old" in refusal(make(es256, iat=int(NOW) - 61))
    assert "from the future" in refusal(make(es256, iat=int(NOW) + 6))
    assert verify(make(es256, iat=int(NOW) + 5)).iat == int(NOW) + 5


def test_a_proof_without_ath_is_refused_with_an_access_token(es256):
    reason = refusal(make(es256, "GET", RESOURCE_URL), method="GET", url=RESOURCE_URL, access_token=ACCESS_TOKEN)

    assert "no ath claim" in reason


def test_a_proof_for_another_access_token_is_refused(es256):
    proof = make(es256, "GET", RESOURCE_URL, access_token="another-token")

    assert "not the hash of this access token" in refusal(
        proof, method="GET", url=RESOURCE_URL, access_token=ACCESS_TOKEN
    )


def test_a_proof_with_the_access_tokens_ath_and_bound_key_is_accepted_at_a_resource(es256):
    proof = make(es256, "GET", RESOURCE_URL, access_token=ACCESS_TOKEN)

    accepted = verify(proof, method="GET", url=RESOURCE_URL, access_token=ACCESS_TOKEN, bound_jkt=es256.jkt)

    assert (accepted.htm, accepted.ath) == ("GET", b64url(hashlib.sha256(ACCESS_TOKEN.encode()).digest()))


def test_a_valid_proof_by_another_key_than_the_token_is_bound_to_is_refused(es256):
    other = DPoPKey("ES256")
    proof = make(other, "GET", RESOURCE_URL, access_token=ACCESS_TOKEN)

    reason = refusal(proof, method="GET", url=RESOURCE_URL, access_token=ACCESS_TOKEN, bound_jkt=es256.jkt)

    assert reason == "The DPoP proof's key is not the one the token is bound to."


@pytest.mark.parametrize("ath", ["short", 5, "x" * 43 + "=", "é" * 43])
def test_a_malformed_ath_is_refused_even_at_the_token_endpoint(es256, ath):
    assert "ath is not a base64url SHA-256 hash" in refusal(make(es256, ath=ath))


@pytest.mark.parametrize(("claim", "reason"), [("jti", "jti must be"), ("htu", "htu is not"), ("ath", "ath is not")])
def test_a_lone_surrogate_in_a_claim_is_refused(es256, claim, reason):
    # JSON can spell one (as \\ud800); it must not reach anything that encodes to UTF-8.
    assert reason in refusal(make(es256, **{claim: "\ud800"}))


def test_a_lone_surrogate_in_a_nonce_gets_a_fresh_nonce(es256):
    with pytest.raises(UseDPoPNonce):
        verify(make(es256, nonce="\ud800"))


def test_a_nonce_that_is_not_a_string_is_refused(es256):
    assert "nonce is not a string" in refusal(make(es256, nonce=12))


def test_proof_headers_given_as_one_string_is_a_programming_error(es256):
    with pytest.raises(TypeError):
        dpop_proof_verify(make(es256), method="POST", url=TOKEN_URL)


# --- Nonces ------------------------------------------------------------------------------------


def test_a_required_nonce_missing_is_refused_with_a_fresh_one_that_then_passes(es256):
    with pytest.raises(UseDPoPNonce) as refused:
        verify(make(es256), nonce_required=True)

    assert refused.value.error == "use_dpop_nonce"
    assert dpop_nonce_valid(refused.value.nonce, now=NOW)
    assert verify(make(es256, nonce=refused.value.nonce), nonce_required=True).nonce == refused.value.nonce


def test_an_expired_nonce_is_refused_with_a_fresh_one(es256):
    stale = dpop_nonce_issue(now=NOW - 301)

    with pytest.raises(UseDPoPNonce, match="expired") as refused:
        verify(make(es256, nonce=stale), nonce_required=True)

    assert refused.value.nonce != stale
    assert dpop_nonce_valid(refused.value.nonce, now=NOW)


def test_a_nonce_is_checked_when_present_even_if_not_required(es256):
    assert verify(make(es256, nonce=dpop_nonce_issue(now=NOW))).nonce is not None
    with pytest.raises(UseDPoPNonce):
        verify(make(es256, nonce="made-up"))


def test_a_bad_proof_with_a_missing_nonce_is_told_what_is_wrong_with_it_first(es256):
    # invalid_dpop_proof before use_dpop_nonce: a new nonce would not help it.
    assert "htm" in refusal(make(es256, htm="GET"), nonce_required=True)


# --- Replay ------------------------------------------------------------------------------------


def test_a_proof_is_accepted_once(es256):
    proof = make(es256)
    verify(proof)

    assert "used before" in refusal(proof)


def test_the_same_jti_under_another_key_is_accepted(es256):
    verify(make(es256, jti="shared"))

    assert verify(make(DPoPKey("ES256"), jti="shared")).jti == "shared"


def test_a_refused_proof_does_not_use_its_jti_up(es256):
    proof = make(es256)
    with pytest.raises(UseDPoPNonce):
        verify(proof, nonce_required=True)

    assert verify(proof).jkt == es256.jkt


# --- Logs --------------------------------------------------------------------------------------


def test_a_refusal_logs_one_info_line_without_the_proof(caplog, es256):
    proof = make(es256, "GET", RESOURCE_URL, access_token="another-token", jti="secret-jti")

    with caplog.at_level(logging.INFO, logger="oauthgw.dpop"):
        refusal(proof, method="GET", url=RESOURCE_URL, access_token=ACCESS_TOKEN)

    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert "ath is not the hash" in record.getMessage()
    assert f"key {es256.jkt[:8]}" in record.getMessage()
    for secret in (proof, *proof.split("."), "secret-jti", ACCESS_TOKEN, es256.jkt, es256.jwk["x"]):
        assert secret not in record.getMessage()


def test_a_refusal_before_the_key_is_read_logs_no_key(caplog):
    with caplog.at_level(logging.INFO, logger="oauthgw.dpop"):
        refusal("garbage")

    assert [record.getMessage() for record in caplog.records] == [
        "DPoP proof refused: The DPoP proof is not a JWS in compact serialization. (key unknown)"
    ]


# --- Whatever arrives, a DPoP error or a proof, never anything else ------------------------------

EXAMPLES = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZ_KEY = DPoPKey("ES256")
HEADER_SAFE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
b64_text = st.binary(max_size=70).map(b64url)
jwks = st.one_of(
    st.just(FUZZ_KEY.jwk),
    st.fixed_dictionaries(
        {},
        optional={
            "kty": st.sampled_from(["EC", "RSA", "OKP", "oct", ""]) | json_values,
            "crv": st.sampled_from(["P-256", "P-384", "P-521", "Ed25519", "Ed448", "X25519"]) | json_values,
            "x": b64_text | json_values,
            "y": b64_text | json_values,
            "n": b64_text | json_values,
            "e": st.sampled_from(["AQAB", "Aw", "AA", ""]) | json_values,
            "d": b64_text,
            "alg": st.sampled_from(["ES256", "RS256"]) | json_values,
        },
    ),
    json_values,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "typ": st.sampled_from(["dpop+jwt", "JWT"]) | json_values,
        "alg": st.sampled_from(["ES256", "RS256", "EdDSA", "none", "HS256"]) | json_values,
        "jwk": jwks,
        "crit": json_values,
        "kid": json_values,
        "jku": json_values,
        "x5c": json_values,
    },
)
claims = st.fixed_dictionaries(
    {},
    optional={
        "jti": st.text(max_size=300) | json_values,
        "htm": st.sampled_from(["POST", "GET"]) | json_values,
        "htu": st.sampled_from([TOKEN_URL, "https://[x", "http://a:b/"]) | st.text(max_size=50) | json_values,
        "iat": st.sampled_from([int(NOW), NOW + 1e300, -(2**70)]) | json_values,
        "ath": st.text(max_size=50) | json_values,
        "nonce": st.text(max_size=50) | json_values,
    },
)
signed_proofs = st.builds(lambda header, claims: FUZZ_KEY.sign(header, claims), headers, claims)


def _one_change_from_valid(header_changes: dict, claim_changes: dict) -> str:
    valid_claims = FUZZ_KEY.claims("POST", TOKEN_URL, iat=int(NOW))
    return FUZZ_KEY.sign({**FUZZ_KEY.header(), **header_changes}, {**valid_claims, **claim_changes})


# Proofs a change or two away from valid reach the later checks (and some are accepted).
nearly_valid_proofs = st.builds(
    _one_change_from_valid,
    st.dictionaries(st.sampled_from(["typ", "alg", "jwk", "crit", "x5u"]), json_values | jwks, max_size=1),
    st.dictionaries(st.sampled_from(["jti", "htm", "htu", "iat", "ath", "nonce"]), json_values, max_size=1),
)
raw_proofs = st.builds(
    lambda parts: ".".join(b64url(part) for part in parts), st.lists(st.binary(max_size=200), max_size=4)
)
one_value = st.one_of(nearly_valid_proofs, signed_proofs, raw_proofs, st.text(max_size=300))
header_values = st.one_of(one_value.map(lambda value: [value]), st.lists(one_value, max_size=3))


@EXAMPLES
@given(values=header_values, access_token=st.none() | st.text(max_size=20), nonce_required=st.booleans())
def test_any_header_gets_a_dpop_error_or_a_proof(values, access_token, nonce_required):
    try:
        proof = verify(values, access_token=access_token, nonce_required=nonce_required)
    except DPoPError as refused:
        assert refused.error in {"invalid_dpop_proof", "use_dpop_nonce"}
        # Fit for an error_description in a WWW-Authenticate quoted string (RFC 6750 section 3).
        assert HEADER_SAFE.fullmatch(refused.description)
        event(refused.description.split("(")[0])
    else:
        assert proof.jkt == FUZZ_KEY.jkt and math.isfinite(proof.iat)
        event("accepted")
