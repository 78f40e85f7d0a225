"""A proof's JOSE syntax is read strictly: one spelling per value, JSON objects, nothing guessed."""

import pytest

from oauthgw.dpop.jose import base64url_decode, compact_jws_parse
from oauthgw.exceptions import InvalidDPoPProof
from tests.support.dpop import b64url


@pytest.mark.parametrize(
    ("value", "octets"), [("", b""), ("AQ", b"\x01"), ("AQAB", b"\x01\x00\x01"), ("-_8", b"\xfb\xff")]
)
def test_canonical_unpadded_base64url_is_decoded(value, octets):
    assert base64url_decode(value) == octets


# "AR" carries unused bits that "AQ" does not: both would read as 0x01.
@pytest.mark.parametrize("value", ["AR", "AQ==", "AQ=", "A", "AQ+B", "AQ/B", "AQ B", "AQ\nAB", "é"])
def test_other_spellings_are_refused(value):
    with pytest.raises(ValueError):
        base64url_decode(value)


def _parts(header: bytes, payload: bytes = b"{}") -> str:
    return f"{b64url(header)}.{b64url(payload)}.{b64url(b'signature')}"


def test_a_compact_jws_gives_its_header_payload_and_signed_bytes():
    value = _parts(b'{"alg":"ES256"}', b'{"jti":"x"}')

    jws = compact_jws_parse(value)

    assert (jws.header, jws.payload, jws.signature) == ({"alg": "ES256"}, {"jti": "x"}, b"signature")
    assert jws.signing_input == value.rsplit(".", 1)[0].encode()


@pytest.mark.parametrize(
    "header",
    [
        b'{"alg":"ES256","alg":"none"}',
        b'{"a":NaN}',
        b'{"a":-Infinity}',
        b'{"a":1' + b"0" * 5000 + b"}",
        b"[" * 2000 + b"]" * 2000,
        '{"alg":"ES256"}'.encode("utf-16"),
        b'{"alg":"\xff"}',
        b"",
    ],
)
def test_json_that_is_ambiguous_unbounded_or_not_utf8_is_refused(header):
    with pytest.raises(InvalidDPoPProof, match="header is not base64url-encoded JSON"):
        compact_jws_parse(_parts(header))


@pytest.mark.parametrize("payload", [b"[]", b'"text"', b"1", b"null"])
def test_a_payload_that_is_not_an_object_is_refused(payload):
    with pytest.raises(InvalidDPoPProof, match="payload is not a JSON object"):
        compact_jws_parse(_parts(b"{}", payload))


def test_a_value_over_the_length_limit_is_refused_before_decoding():
    with pytest.raises(InvalidDPoPProof, match="longer than 8192"):
        compact_jws_parse("!" * 8193)
