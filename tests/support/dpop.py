"""A DPoP client for tests: a key pair that signs proofs with chosen claims and headers.

``DPoPKey("ES256").proof("POST", url)`` is a valid proof made now; keyword
arguments change any part of it, including into something no client should
send (for the refusal tests). The thumbprint is computed here from RFC 7638
directly, not with the code under test.

``verify_elsewhere`` runs ``dpop_proof_verify`` (or issues a nonce) in another
Python process set up like a gateway process, on the test database (and Redis,
when the suite runs with it): what another worker or instance would answer.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from django.db import connection
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from tests.support.processes import ROOT

_EC_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
OMIT = object()
"""A value for a claim or header parameter that leaves it out of the proof."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def private_key_generate(algorithm: str, *, curve: str = "Ed25519", rsa_bits: int = 2048):
    if algorithm in _EC_CURVES:
        return ec.generate_private_key(_EC_CURVES[algorithm]())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate() if curve == "Ed25519" else ed448.Ed448PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)


def public_jwk(private_key) -> dict:
    public = private_key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}


class DPoPKey:
    """A client's DPoP key pair (``algorithm``: ES256 … EdDSA) and the proofs it signs."""

    def __init__(self, algorithm: str = "ES256", *, private_key=None, **generate):
        self.algorithm = algorithm
        self.private_key = private_key or private_key_generate(algorithm, **generate)
        self.jwk = public_jwk(self.private_key)

    @property
    def jkt(self) -> str:
        members = {name: self.jwk[name] for name in _THUMBPRINT_MEMBERS[self.jwk["kty"]]}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
        return b64url(hashlib.sha256(canonical).digest())

    def claims(self, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None, **extra):
        claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
        if access_token is not None:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest())
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(extra)
        return {name: value for name, value in claims.items() if value is not OMIT}

    def header(self, **extra) -> dict:
        header = {"typ": "dpop+jwt", "alg": self.algorithm, "jwk": self.jwk, **extra}
        return {name: value for name, value in header.items() if value is not OMIT}

    def proof(
        self,
        method: str = "POST",
        url: str = "https://testserver/oauth2/token",
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        header: dict | None = None,
        **claims,
    ) -> str:
        """A proof for ``method`` and ``url``; ``header`` and ``claims`` add, replace or (``OMIT``) drop parts."""
        return self.sign(
            self.header(**(header or {})),
            self.claims(method, url, access_token=access_token, nonce=nonce, **claims),
        )

    def sign(self, header: dict | bytes, claims: dict | bytes, *, algorithm: str | None = None) -> str:
        """A compact JWS of exactly these header and payload bytes (JSON-encoded when given as dicts)."""
        encoded = [
            b64url(part if isinstance(part, bytes) else json.dumps(part).encode("utf-8")) for part in (header, claims)
        ]
        signing_input = ".".join(encoded).encode("ascii")
        signature = jwt.get_algorithm_by_name(algorithm or self.algorithm).sign(signing_input, self.private_key)
        return f"{encoded[0]}.{encoded[1]}.{b64url(signature)}"


_CHILD = """
import json, sys
import django
django.setup()
from oauthgw.dpop.nonces import dpop_nonce_issue
from oauthgw.dpop.proofs import dpop_proof_verify
from oauthgw.exceptions import DPoPError

task = json.load(sys.stdin)
if task.pop("action") == "nonce":
    print(json.dumps({"nonce": dpop_nonce_issue()}))
else:
    try:
        proof = dpop_proof_verify(**task)
    except DPoPError as exc:
        print(json.dumps({"error": exc.error, "description": exc.description}))
    else:
        print(json.dumps({"jkt": proof.jkt}))
"""


def _database_url() -> str:
    """The URL of the database the tests run on (pytest-django's test database)."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database["PASSWORD"] else "")
    return f"postgres://{credentials}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"


def in_another_process(task: dict) -> dict:
    """Run ``task`` (``{"action": "verify", ...dpop_proof_verify's arguments}`` or ``{"action": "nonce"}``)
    in a new Python process on the test database and the same Redis; return its answer."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(task),
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "gatewayproj.settings", "DATABASE_URL": _database_url()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # The last line: Django may log to stdout while it starts.
    return json.loads(result.stdout.strip().splitlines()[-1])


def verify_elsewhere(proof: str, *, method: str, url: str, **options) -> dict:
    """``dpop_proof_verify`` in another process: ``{"jkt": …}`` or ``{"error": …, "description": …}``."""
    return in_another_process({"action": "verify", "proof_headers": [proof], "method": method, "url": url, **options})


def nonce_elsewhere() -> str:
    """A nonce issued by another process."""
    return in_another_process({"action": "nonce"})["nonce"]
