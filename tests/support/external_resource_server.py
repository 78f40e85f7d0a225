"""An API on another machine that verifies the gateway's JWT access tokens alone, as API teams write one.

It knows nothing of Django or of this project: only the gateway's URL and its own
audience. It reads the RFC 8414 metadata for ``jwks_uri`` and verifies with
PyJWT's ``PyJWKClient`` (the JWKS over HTTP, cached, fetched again for an
unknown kid), as RFC 9068 section 4 asks: ``typ`` at+jwt, an allowed ``alg``,
the signature, ``iss``, ``aud``, ``exp`` and the required claims. Run with
``python -I`` so that nothing of the project can be imported.

    python -I external_resource_server.py GATEWAY_URL AUDIENCE < tokens.json
        prints {"name": "accepted" | "<the error's class>", ...} for {"name": token, ...}
    python -I external_resource_server.py GATEWAY_URL AUDIENCE --repeat N < token.txt
        verifies one token N times and prints {"verify_us": median µs per verification}
"""

import json
import statistics
import sys
import time
import urllib.request

import jwt

ALGORITHMS = ["ES256", "RS256"]
REQUIRED = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"]


class NotAnAccessToken(jwt.InvalidTokenError):
    """The JOSE header's typ is not at+jwt: an ID token or another JWT, not for an API (RFC 9068 section 4)."""


class Verifier:
    def __init__(self, gateway_url: str, audience: str):
        metadata_url = f"{gateway_url}/.well-known/oauth-authorization-server"
        with urllib.request.urlopen(metadata_url, timeout=10) as response:
            metadata = json.load(response)
        self.issuer = metadata["issuer"]
        self.audience = audience
        self.jwks = jwt.PyJWKClient(metadata["jwks_uri"], cache_keys=True, lifespan=300, timeout=10)

    def verify(self, token: str) -> dict:
        header = jwt.get_unverified_header(token)
        if header.get("typ", "").lower() not in ("at+jwt", "application/at+jwt"):
            raise NotAnAccessToken(f"typ {header.get('typ')!r}")
        key = self.jwks.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            audience=self.audience,
            issuer=self.issuer,
            options={"require": REQUIRED},
        )

    def verdict(self, token: str) -> str:
        try:
            self.verify(token)
        except jwt.PyJWTError as exc:
            return type(exc).__name__
        return "accepted"


def main() -> None:
    gateway_url, audience, *options = sys.argv[1:]
    verifier = Verifier(gateway_url.rstrip("/"), audience)
    if options[:1] == ["--repeat"]:
        token = sys.stdin.read().strip()
        verifier.verify(token)  # the JWKS fetched once, as a running API has it
        rounds = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(int(options[1])):
                verifier.verify(token)
            rounds.append((time.perf_counter() - started) / int(options[1]) * 1e6)
        print(json.dumps({"verify_us": round(statistics.median(rounds), 1)}))
        return
    tokens = json.load(sys.stdin)
    print(json.dumps({name: verifier.verdict(token) for name, token in tokens.items()}))


if __name__ == "__main__":
    main()
