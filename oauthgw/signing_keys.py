"""The gateway's signing keys as every process reads them: new key material, the JWKS, the key that signs now.

**ES256** (ECDSA on P-256 with SHA-256) is the default algorithm: every JOSE
library and API gateway verifies it (RFC 7518 marks it Recommended+; AWS API
Gateway, Kong, Envoy, jose, PyJWT, Nimbus, go-jose, Microsoft.IdentityModel), its
keys and signatures are small (the gateway's tokens are about 520 bytes, 770
with RS256), and it signs about eight times faster than RS256 with a 2048-bit
key (42 against 341 µs here), which the token endpoint pays on every token.
RS256 verifies about twice as fast (59 against 133 µs), but that is a small
part of what an API spends on a request either way. Ed25519 is faster still but not accepted by every verifier (AWS API
Gateway's JWT authorizers, for one). ``OAUTHGW_JWT_SIGNING_ALGORITHM=RS256``
makes new keys RSA for verifiers that know nothing else. bench/README.md has the
figures measured here.

Each process keeps a copy of the key schedule (public halves and dates, never the
private keys' ciphertext) and reads it again at most ``KEY_SET_SECONDS`` later,
or sooner when a token names a kid it does not know. The schedule makes a
per-process copy safe: which key signs is decided by the clock, and a rotated-in
key is published ``SIGNING_KEY_PUBLISH_SECONDS`` before it signs
(``oauthgw.issuing.key_rotation``), so every process knows a key long before it
has to sign or verify with it. A private key is decrypted once per process: a
kid's key never changes.
"""

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.utils import timezone
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from oauthgw.models import SigningKey

ES256 = "ES256"
RS256 = "RS256"
ALGORITHMS = (ES256, RS256)
RSA_KEY_BITS = 2048

# How stale a process's view of the key schedule may be: how long after a
# key is removed (a compromised key) this process stops signing or accepting it.
KEY_SET_SECONDS = 5.0
# A token naming an unknown kid reads the schedule again at most this often.
UNKNOWN_KID_RELOAD_SECONDS = 1.0

# RFC 7638 section 3.2 (and RFC 8037 section 2 for OKP): the members of a
# thumbprint, per key type. DPoP keys (oauthgw.dpop) use all three.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


@dataclass(frozen=True)
class KeyMaterial:
    """A new key pair: what a ``SigningKey`` row stores."""

    kid: str
    algorithm: str
    public_jwk: dict
    private_pem: str


def _public_jwk(public_key, algorithm: str) -> dict:
    if algorithm == ES256:
        members = ECAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        members = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    return {name: members[name] for name in _THUMBPRINT_MEMBERS[members["kty"]]}


def jwk_thumbprint(jwk: dict) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def key_material_generate(algorithm: str) -> KeyMaterial:
    """A new private key for ``algorithm`` with its public JWK; the kid is the key's thumbprint."""
    if algorithm == ES256:
        private_key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == RS256:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    else:
        raise ValueError(f"unsupported signing algorithm {algorithm!r} (supported: {', '.join(ALGORITHMS)})")
    public_jwk = _public_jwk(private_key.public_key(), algorithm)
    kid = jwk_thumbprint(public_jwk)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return KeyMaterial(
        kid=kid,
        algorithm=algorithm,
        public_jwk={**public_jwk, "kid": kid, "alg": algorithm, "use": "sig"},
        private_pem=pem,
    )


@dataclass(frozen=True)
class PublishedKey:
    """One key of the schedule as a process holds it: its public half and its dates."""

    pk: int
    kid: str
    algorithm: str
    jwk: dict
    signing_from: datetime
    signing_until: datetime | None
    published_until: datetime | None
    verifier: Any = field(compare=False, repr=False)

    def published_at(self, now: datetime) -> bool:
        return self.published_until is None or now < self.published_until

    def signs_at(self, now: datetime) -> bool:
        return self.signing_from <= now and (self.signing_until is None or now < self.signing_until)


@dataclass(frozen=True)
class Signer:
    """The key that signs now, with its private key loaded."""

    key: PublishedKey
    private_key: Any = field(repr=False)


class _Schedule:
    """This process's copy of the key schedule."""

    def __init__(self) -> None:
        self._keys: tuple[PublishedKey, ...] = ()
        self._read_at = -KEY_SET_SECONDS
        self._lock = threading.Lock()
        self._verifiers: dict[str, Any] = {}
        self._private_keys: dict[str, Any] = {}

    def keys(self, *, max_age: float = KEY_SET_SECONDS) -> tuple[PublishedKey, ...]:
        if time.monotonic() - self._read_at < max_age:
            return self._keys
        with self._lock:
            if time.monotonic() - self._read_at >= max_age:
                self._keys = self._read()
                self._read_at = time.monotonic()
        return self._keys

    def _read(self) -> tuple[PublishedKey, ...]:
        # The private key's ciphertext is not read here: only the signer needs it.
        rows = SigningKey.objects.defer("encrypted_private_key").order_by("-generation")
        return tuple(
            PublishedKey(
                pk=row.pk,
                kid=row.kid,
                algorithm=row.algorithm,
                jwk=row.public_jwk,
                signing_from=row.signing_from,
                signing_until=row.signing_until,
                published_until=row.published_until,
                verifier=self._verifier(row.kid, row.public_jwk, row.algorithm),
            )
            for row in rows
        )

    def _verifier(self, kid: str, jwk: dict, algorithm: str):
        verifier = self._verifiers.get(kid)
        if verifier is None:
            verifier = self._verifiers[kid] = jwt.PyJWK(jwk, algorithm)
        return verifier

    def private_key(self, key: PublishedKey):
        """The private key of ``key``, decrypted once; raise ``DecryptionError`` if no key opens it."""
        private_key = self._private_keys.get(key.kid)
        if private_key is None:
            pem = SigningKey.objects.only("encrypted_private_key").get(pk=key.pk).private_key
            private_key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
            self._private_keys[key.kid] = private_key
        return private_key

    def forget(self) -> None:
        with self._lock:
            self._keys = ()
            self._read_at = -KEY_SET_SECONDS
            self._private_keys.clear()


_schedule = _Schedule()


def forget() -> None:
    """Drop this process's copy: the next read comes from the database (after a change made here; tests)."""
    _schedule.forget()


def published_keys(now: datetime | None = None) -> list[PublishedKey]:
    """The keys in the JWKS now, newest first: the one that signs, those that will, those still verifying."""
    now = now or timezone.now()
    return [key for key in _schedule.keys() if key.published_at(now)]


def jwks(now: datetime | None = None) -> dict:
    """The JWK Set document (RFC 7517 section 5) of the published keys."""
    return {"keys": [key.jwk for key in published_keys(now)]}


def verification_key(kid: str, now: datetime | None = None) -> PublishedKey | None:
    """The published key named ``kid``, or None: read again if this process has not heard of it yet."""
    now = now or timezone.now()
    for max_age in (KEY_SET_SECONDS, UNKNOWN_KID_RELOAD_SECONDS):
        for key in _schedule.keys(max_age=max_age):
            if key.kid == kid:
                return key if key.published_at(now) else None
    return None


def signing_key(now: datetime | None = None, *, fresh: bool = False) -> PublishedKey | None:
    """The published key that signs at ``now``, or None (before the first key); ``fresh`` reads the database first."""
    now = now or timezone.now()
    if fresh:
        _schedule.forget()
    for key in _schedule.keys():
        if key.signs_at(now) and key.published_at(now):
            return key
    return None


def signer(now: datetime | None = None, *, fresh: bool = False) -> Signer | None:
    """The key that signs at ``now`` with its private key, or None when no key does.

    Raises ``DecryptionError`` when no configured encryption key opens the private key.
    """
    key = signing_key(now, fresh=fresh)
    return None if key is None else Signer(key=key, private_key=_schedule.private_key(key))
