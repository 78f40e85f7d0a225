"""The compact JWS a DPoP proof is written in (RFC 7515 section 7.1), read strictly and within bounds.

A proof is hostile input read before anything vouches for it, so every step is
bounded and refuses what a lenient reader would guess at: the length is checked
before any decoding; base64url must be unpadded and canonical (one spelling per
value, so one key has one thumbprint); each part must be UTF-8 JSON naming no
member twice (RFC 7515 section 5.2 allows refusing, and two readers picking
different duplicates is how signature bypasses happen); numbers must be finite.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass

from oauthgw.exceptions import InvalidDPoPProof

# An RSA-8192 key and signature take about 3.3 KB of a proof; the rest leaves room
# for a long htu. Also the header-line limit of common servers (8 KiB).
MAX_PROOF_LENGTH = 8192

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def base64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def base64url_decode(value: str) -> bytes:
    """The bytes of unpadded, canonical base64url; ValueError for anything else."""
    if not _BASE64URL.fullmatch(value) or len(value) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc
    # Unused low bits must be zero: "AQAB" and "AQAC" would otherwise both be 65537.
    if base64url_encode(data) != value:
        raise ValueError("not canonical base64url")
    return data


@dataclass(frozen=True)
class CompactJWS:
    header: dict
    payload: dict
    signing_input: bytes
    signature: bytes


def compact_jws_parse(value: str) -> CompactJWS:
    """The header, payload and signature of a compact JWS whose two first parts are JSON objects."""
    if len(value) > MAX_PROOF_LENGTH:
        raise InvalidDPoPProof(f"The DPoP proof is longer than {MAX_PROOF_LENGTH} characters.")
    parts = value.split(".")
    if len(parts) != 3:
        raise InvalidDPoPProof("The DPoP proof is not a JWS in compact serialization.")
    encoded_header, encoded_payload, encoded_signature = parts
    header = _json_object(encoded_header, "header")
    payload = _json_object(encoded_payload, "payload")
    try:
        signature = base64url_decode(encoded_signature)
    except ValueError:
        raise InvalidDPoPProof("The DPoP proof's signature is not base64url.") from None
    signing_input = f"{encoded_header}.{encoded_payload}".encode("ascii")
    return CompactJWS(header=header, payload=payload, signing_input=signing_input, signature=signature)


def _json_object(encoded: str, part: str) -> dict:
    try:
        # Decoded as UTF-8 explicitly: json.loads would also guess UTF-16 and UTF-32.
        text = base64url_decode(encoded).decode("utf-8")
        value = json.loads(text, object_pairs_hook=_members, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        # ValueError covers bad base64url, bad UTF-8, bad JSON, duplicate members,
        # NaN/Infinity and integers too long to convert; RecursionError, deep nesting.
        raise InvalidDPoPProof(f"The DPoP proof's {part} is not base64url-encoded JSON.") from None
    if not isinstance(value, dict):
        raise InvalidDPoPProof(f"The DPoP proof's {part} is not a JSON object.")
    return value


def _members(pairs: list[tuple[str, object]]) -> dict:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("a member is named twice")
    return members


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")
