"""A DPoP proof checked against the request it came with (RFC 9449 section 4.3): the whole rule, in order.

The token endpoint and the resource server call ``dpop_proof_verify`` alike; the
resource server passes the access token (so ``ath`` is required and compared),
the token endpoint does not; whoever holds a bound token (an access token at the
resource server, a bound refresh token at the token endpoint) passes its
``cnf.jkt``. A proof passes, in this order, each check that costs more only after
those that cost less:

1. exactly one ``DPoP`` header value, at most ``jose.MAX_PROOF_LENGTH`` long,
   a compact JWS whose header and payload are JSON objects (``jose``);
2. header: ``typ`` exactly ``dpop+jwt`` (what every client sends; the RFC's
   check), no ``crit`` (no extension is understood here), ``alg`` one of
   ``keys.signing_algorithms()``, ``jwk`` a bounded public key for it (``keys``);
   ``kid``, ``jku``, ``x5u`` and ``x5c`` are ignored, nothing is fetched;
3. claims: ``jti`` 1 to 256 visible ASCII characters; ``htm`` the request's
   method; ``htu`` the request's URI, both without query and fragment after
   RFC 3986 syntax- and scheme-based normalisation (case of scheme and host,
   percent-encoding, dot segments, default port, empty path); ``iat`` a number
   within the window below; ``ath``, when present, a SHA-256 hash, and when an
   access token is presented, required and equal to its hash; ``nonce`` a string;
4. the signature, with the ``jwk``; then the key, when the token is bound to
   one: ``bound_jkt`` must be its thumbprint (section 7.1);
5. the nonce, when one is required or the proof carries one (``nonces``):
   missing or stale, ``UseDPoPNonce`` with a fresh one;
6. the ``jti``, claimed once for all processes and instances (``replay``), last,
   so that no refused proof uses one up.

**The window.** A proof is accepted from ``DPOP_CLOCK_SKEW`` (30 s) before its
``iat`` until ``DPOP_PROOF_MAX_AGE`` (300 s) after it. Five minutes covers a slow
client clock and a slow network; its cost is the replay store, which remembers
each ``jti`` that long. Proofs dated later than 30 s ahead are "from the future"
and refused: a later ``iat`` would keep a proof signed in advance alive longer,
and 30 s still admits phones whose clocks run a little fast. Servers that want
freshness without trusting client clocks require nonces.

**``ath`` at the token endpoint.** No access token is presented there, so there
is nothing to compare an ``ath`` with: it is checked for shape and otherwise
ignored, as section 4.3 checks it only "in conjunction with an access token".
Refusing it would fail a client for a claim that weakens nothing, since ``htm``
and ``htu`` already tie the proof to the token endpoint.

Every refusal raises ``InvalidDPoPProof`` or ``UseDPoPNonce`` (or
``DPoPReplayCheckUnavailable`` when the replay store is down) and logs one INFO
line: the rule broken and the first characters of the key's thumbprint when
known, never the proof, a token or key material.
"""

import hmac
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt
from cryptography.exceptions import InvalidSignature

from oauthgw.conf import gateway_settings
from oauthgw.dpop.jose import CompactJWS, compact_jws_parse
from oauthgw.dpop.keys import public_key, signing_algorithms
from oauthgw.dpop.nonces import dpop_nonce_issue, dpop_nonce_valid
from oauthgw.dpop.replay import jti_claim
from oauthgw.dpop.thumbprints import access_token_hash, jwk_thumbprint
from oauthgw.exceptions import DPoPError, DPoPReplayCheckUnavailable, InvalidDPoPProof, UseDPoPNonce

logger = logging.getLogger(__name__)

TYPE = "dpop+jwt"
MAX_JTI_LENGTH = 256

_JTI = re.compile(rf"[\x21-\x7e]{{1,{MAX_JTI_LENGTH}}}")
_SHA256_BASE64URL = re.compile(r"[A-Za-z0-9_-]{43}")
# RFC 3986 characters of a URI up to its query: unreserved, reserved, and percent-encoded octets.
_URI = re.compile(r"(?:[A-Za-z0-9\-._~:/\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
_PERCENT_ENCODED = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class DPoPProof:
    """A proof that passed every check: ``jkt`` is the thumbprint a token is bound to (``cnf.jkt``)."""

    jkt: str
    jti: str
    iat: float
    htm: str
    htu: str
    ath: str | None
    nonce: str | None
    algorithm: str


def dpop_proof_verify(
    proof_headers: Sequence[str],
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    bound_jkt: str | None = None,
    nonce_required: bool = False,
    now: float | None = None,
) -> DPoPProof:
    """The proof in the request's ``DPoP`` header values, checked against its method and absolute URL.

    ``proof_headers`` holds every ``DPoP`` header value the request carried (a
    server joins repeated headers with commas; none may be there). Pass
    ``access_token`` at a protected resource: ``ath`` must then match it; and
    ``bound_jkt``, the thumbprint the presented token is bound to: the proof must
    then be signed with that key.
    Raises ``InvalidDPoPProof``, ``UseDPoPNonce`` or ``DPoPReplayCheckUnavailable``.
    """
    if isinstance(proof_headers, str):
        raise TypeError("proof_headers is a sequence of header values, not one string")
    now = time.time() if now is None else now
    jkt = None
    try:
        jws = compact_jws_parse(_single_value(proof_headers))
        algorithm = _header_algorithm(jws.header)
        key = public_key(jws.header.get("jwk"), algorithm)
        jkt = jwk_thumbprint(jws.header["jwk"])
        proof = _claims(jws.payload, jkt=jkt, algorithm=algorithm, method=method, url=url, now=now)
        _ath_check(proof.ath, access_token)
        if not _signature_valid(jws, algorithm, key):
            raise InvalidDPoPProof("The DPoP proof's signature does not verify with its jwk.")
        if bound_jkt is not None and not hmac.compare_digest(jkt, bound_jkt):
            raise InvalidDPoPProof("The DPoP proof's key is not the one the token is bound to.")
        _nonce_check(proof.nonce, required=nonce_required, now=now)
        jti_claim(jkt=jkt, jti=proof.jti)
    except (DPoPError, DPoPReplayCheckUnavailable) as exc:
        reason = exc.description if isinstance(exc, DPoPError) else "the replay check is unavailable"
        logger.info("DPoP proof refused: %s (key %s)", reason, jkt[:8] if jkt else "unknown")
        raise
    return proof


def _single_value(proof_headers: Sequence[str]) -> str:
    values = [value.strip() for header in proof_headers for value in header.split(",")]
    if len(values) != 1 or not values[0]:
        raise InvalidDPoPProof("The request must carry exactly one DPoP header with one proof.")
    return values[0]


def _header_algorithm(header: dict) -> str:
    if header.get("typ") != TYPE:
        raise InvalidDPoPProof(f"The DPoP proof's typ is not {TYPE}.")
    if "crit" in header:
        raise InvalidDPoPProof("The DPoP proof has critical header parameters (crit), which this server does not use.")
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in signing_algorithms():
        raise InvalidDPoPProof(
            "The DPoP proof's alg is not one this server accepts (see dpop_signing_alg_values_supported)."
        )
    return algorithm


def _claims(payload: dict, *, jkt: str, algorithm: str, method: str, url: str, now: float) -> DPoPProof:
    for name in ("jti", "htm", "htu", "iat"):
        if name not in payload:
            raise InvalidDPoPProof(f"The DPoP proof has no {name} claim.")
    jti, htm, htu, iat = payload["jti"], payload["htm"], payload["htu"], payload["iat"]
    if not isinstance(jti, str) or not _JTI.fullmatch(jti):
        raise InvalidDPoPProof(f"The DPoP proof's jti must be 1 to {MAX_JTI_LENGTH} visible ASCII characters.")
    if htm != method:
        raise InvalidDPoPProof("The DPoP proof's htm is not this request's method.")
    claimed_uri = _target_uri(htu) if isinstance(htu, str) else None
    if claimed_uri is None:
        raise InvalidDPoPProof("The DPoP proof's htu is not an http(s) URI.")
    if claimed_uri != _target_uri(url):
        raise InvalidDPoPProof("The DPoP proof's htu is not this request's URI.")
    _iat_check(iat, now)
    ath, nonce = payload.get("ath"), payload.get("nonce")
    if ath is not None and not (isinstance(ath, str) and _SHA256_BASE64URL.fullmatch(ath)):
        raise InvalidDPoPProof("The DPoP proof's ath is not a base64url SHA-256 hash.")
    if nonce is not None and not isinstance(nonce, str):
        raise InvalidDPoPProof("The DPoP proof's nonce is not a string.")
    return DPoPProof(jkt=jkt, jti=jti, iat=iat, htm=htm, htu=htu, ath=ath, nonce=nonce, algorithm=algorithm)


def _iat_check(iat: object, now: float) -> None:
    # bool is an int in Python, and JSON's true is no time.
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise InvalidDPoPProof("The DPoP proof's iat is not a number.")
    max_age, skew = gateway_settings.DPOP_PROOF_MAX_AGE, gateway_settings.DPOP_CLOCK_SKEW
    if iat < now - max_age:
        raise InvalidDPoPProof(f"The DPoP proof is too old (its iat is more than {max_age:g} seconds ago).")
    if iat > now + skew:
        raise InvalidDPoPProof(f"The DPoP proof is from the future (its iat is more than {skew:g} seconds ahead).")


def _ath_check(ath: str | None, access_token: str | None) -> None:
    if access_token is None:
        return
    if ath is None:
        raise InvalidDPoPProof("The DPoP proof has no ath claim, which a proof sent with an access token needs.")
    # Both are ASCII base64url here: compare_digest takes them as they are.
    if not hmac.compare_digest(ath, access_token_hash(access_token)):
        raise InvalidDPoPProof("The DPoP proof's ath is not the hash of this access token.")


def _signature_valid(jws: CompactJWS, algorithm: str, key) -> bool:
    try:
        return jwt.get_algorithm_by_name(algorithm).verify(jws.signing_input, key, jws.signature)
    except (InvalidSignature, ValueError):
        return False


def _nonce_check(nonce: str | None, *, required: bool, now: float) -> None:
    if nonce is None:
        if required:
            raise UseDPoPNonce(dpop_nonce_issue(now=now), "The DPoP proof must carry the server's nonce (DPoP-Nonce).")
        return
    if not dpop_nonce_valid(nonce, now=now):
        raise UseDPoPNonce(dpop_nonce_issue(now=now), "The DPoP proof's nonce has expired or is not this server's.")


def _target_uri(value: str) -> str | None:
    """The normal form of an http(s) URI without its query and fragment (RFC 3986 section 6.2.2-6.2.3), or None."""
    value = re.split(r"[?#]", value, maxsplit=1)[0]
    if not _URI.fullmatch(value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    # A request's URI never has user information: an htu with some names no request.
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    authority = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        authority += f":{port}"
    return f"{scheme}://{authority}{_path_normalised(parts.path)}"


def _path_normalised(path: str) -> str:
    # Percent-encoding: unreserved characters decoded, other triplets in upper case.
    path = _PERCENT_ENCODED.sub(
        lambda match: chr(int(match[1], 16)) if chr(int(match[1], 16)) in _UNRESERVED else match[0].upper(), path
    )
    # Dot segments (RFC 3986 section 5.2.4); the path is empty or absolute here.
    segments = path.split("/")[1:]
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments and segments[-1] in (".", ".."):
        kept.append("")
    return "/" + "/".join(kept)
