"""The algorithms a DPoP proof may be signed with and the public key it carries (RFC 9449 section 4.3).

Only asymmetric algorithms: a proof proves possession of a private key, so
``none`` and the HMAC algorithms mean nothing here and are refused whatever the
configuration says (the system check refuses them in it too). Each algorithm
takes one key type, and an EC algorithm one curve (``ES256`` is P-256), so a key
never reaches an algorithm it was not made for.

The key is the ``jwk`` header of the proof, never a remote one: ``jku``, ``x5u``
and ``x5c`` are ignored, nothing is fetched. It must be public (a ``jwk`` with a
private member is refused, not stripped: its client has leaked its key) and of a
bounded size, checked before cryptography sees it: RSA moduli of 2048 to 8192
bits (smaller is breakable, larger only costs the server), exponents odd, at
least 3 and below 2**256 (FIPS 186-5's upper bound). Members are Base64urlUInt or
fixed-length octets as RFC 7518 section 6 spells them, in one canonical form, so
that one key has one thumbprint.
"""

import re

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from oauthgw.conf import gateway_settings
from oauthgw.dpop.jose import base64url_decode
from oauthgw.exceptions import InvalidDPoPProof

# Every algorithm PyJWT verifies with an asymmetric key, and the key type it takes.
ALGORITHMS: dict[str, str] = {
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "EdDSA": "OKP",
}
# The curve of each EC algorithm (RFC 7518 section 3.4), with its coordinate length in octets.
_EC_CURVES = {
    "ES256": ("P-256", ec.SECP256R1(), 32),
    "ES384": ("P-384", ec.SECP384R1(), 48),
    "ES512": ("P-521", ec.SECP521R1(), 66),
}
# EdDSA's curves (RFC 8037 section 2), with their public key length in octets.
_OKP_CURVES = {
    "Ed25519": (ed25519.Ed25519PublicKey, 32),
    "Ed448": (ed448.Ed448PublicKey, 57),
}
# Members that only a private or symmetric key has (RFC 7518 sections 6.2.2, 6.3.2 and 6.4).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
RSA_MIN_BITS = 2048
RSA_MAX_BITS = 8192
_RSA_MAX_EXPONENT = 2**256


def configured_algorithms() -> list[str]:
    """The names in ``OAUTHGW_DPOP_SIGNING_ALGORITHMS``, as written (commas or spaces between them)."""
    value = gateway_settings.DPOP_SIGNING_ALGORITHMS
    names = value if isinstance(value, list | tuple) else re.split(r"[\s,]+", str(value))
    return [name for name in names if name]


def signing_algorithms() -> tuple[str, ...]:
    """The algorithms a proof may be signed with: the metadata's ``dpop_signing_alg_values_supported``."""
    return tuple(name for name in configured_algorithms() if name in ALGORITHMS)


def public_key(jwk: object, algorithm: str):
    """The cryptography public key of a proof's ``jwk`` for ``algorithm`` (one of ``signing_algorithms()``)."""
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("The DPoP proof has no jwk header with the public key.")
    private = sorted(PRIVATE_MEMBERS & jwk.keys())
    if private:
        # Member names from the fixed set above, never the values.
        raise InvalidDPoPProof(f"The DPoP proof's jwk holds private key members ({', '.join(private)}).")
    if jwk.get("kty") != ALGORITHMS[algorithm]:
        raise InvalidDPoPProof(f"The DPoP proof's jwk is not an {ALGORITHMS[algorithm]} key, which its alg needs.")
    if "alg" in jwk and jwk["alg"] != algorithm:
        raise InvalidDPoPProof("The DPoP proof's jwk names another alg than its header.")
    try:
        if algorithm in _EC_CURVES:
            return _ec_key(jwk, algorithm)
        if ALGORITHMS[algorithm] == "RSA":
            return _rsa_key(jwk)
        return _okp_key(jwk)
    except ValueError:
        # cryptography's verdict on numbers that passed the checks below (a point off its curve).
        raise InvalidDPoPProof("The DPoP proof's jwk is not a valid public key.") from None


def _member(jwk: dict, name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise InvalidDPoPProof(f"The DPoP proof's jwk has no {name}.")
    try:
        return base64url_decode(value)
    except ValueError:
        raise InvalidDPoPProof(f"The DPoP proof's jwk member {name} is not canonical base64url.") from None


def _ec_key(jwk: dict, algorithm: str):
    crv, curve, size = _EC_CURVES[algorithm]
    if jwk.get("crv") != crv:
        raise InvalidDPoPProof(f"The DPoP proof's jwk is not on {crv}, which its alg needs.")
    x, y = _member(jwk, "x"), _member(jwk, "y")
    # RFC 7518 section 6.2.1.2: coordinates are always full length.
    if len(x) != size or len(y) != size:
        raise InvalidDPoPProof(f"The DPoP proof's jwk coordinates are not {size} octets long.")
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y)


def _unsigned(octets: bytes, name: str) -> int:
    # RFC 7518 section 2, Base64urlUInt: the minimum number of octets, so no leading zero.
    if not octets or (octets[0] == 0 and len(octets) > 1):
        raise InvalidDPoPProof(f"The DPoP proof's jwk member {name} is not a minimal unsigned integer.")
    return int.from_bytes(octets, "big")


def _rsa_key(jwk: dict):
    n = _unsigned(_member(jwk, "n"), "n")
    e = _unsigned(_member(jwk, "e"), "e")
    if not RSA_MIN_BITS <= n.bit_length() <= RSA_MAX_BITS:
        raise InvalidDPoPProof(f"The DPoP proof's RSA key must have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits.")
    if e < 3 or e % 2 == 0 or e >= _RSA_MAX_EXPONENT:
        raise InvalidDPoPProof("The DPoP proof's RSA key has an unusable exponent.")
    return rsa.RSAPublicNumbers(e, n).public_key()


def _okp_key(jwk: dict):
    curve = _OKP_CURVES.get(jwk.get("crv")) if isinstance(jwk.get("crv"), str) else None
    if curve is None:
        raise InvalidDPoPProof("The DPoP proof's jwk is not on Ed25519 or Ed448, which EdDSA needs.")
    key_class, size = curve
    x = _member(jwk, "x")
    if len(x) != size:
        raise InvalidDPoPProof(f"The DPoP proof's jwk member x is not {size} octets long.")
    return key_class.from_public_bytes(x)
