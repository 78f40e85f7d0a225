"""What a DPoP proof costs, at the token endpoint and at the API, next to bearer, in one run.

    .venv/bin/python bench/dpop.py [-n REQUESTS] [--database URL] [--redis URL]

In-process, as ``bench/cpu.py``: one thread calls the Django test client in a
loop, and each scenario reports the median over five rounds of the process's
CPU time (``time.process_time``) and wall time per request. By default on the
embedded deployment (SQLite in a temporary file, no Redis, where each proof's
replay mark is a row of the database); ``--database`` (a PostgreSQL URL, whose
database is dropped and created again) and ``--redis`` (a Redis URL, emptied) measure the
scale-out one. Scenarios, measured alternately in the same process:

- ``token_bearer`` / ``token_dpop``: client_credentials, without and with a proof;
- ``api_bearer`` / ``api_dpop``: ``GET /helloworld/`` with a bearer token, and
  with a DPoP-bound token and its proof (``ath``);
- ``proof_verify``: ``dpop_proof_verify`` alone (the signature and the replay mark).

Proofs (ES256) are made before each round, so their signing, the client's work, is
in no figure. PostgreSQL's and Redis's CPU is not in the CPU figure; their round
trips are in the wall time.
"""

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROUNDS = 5
TOKEN_URL = "http://testserver/oauth2/token"
HELLO_URL = "http://testserver/helloworld/"
FORM = "application/x-www-form-urlencoded"


class ProofMaker:
    """An ES256 key and proofs by it, made ahead of the timed loop."""

    def __init__(self):
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec

        self._jwt = jwt
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode()).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return self._jwt.encode(claims, self.key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": self.jwk})

    def proofs(self, count: int, method: str, url: str, access_token: str | None = None) -> list[str]:
        return [self.proof(method, url, access_token) for _ in range(count)]


def measure(requests: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from oauthgw.dpop.proofs import dpop_proof_verify
    from oauthgw.issuing.clients import client_create

    call_command("migrate", verbosity=0)
    app, secret = client_create(
        name=f"bench-dpop-{uuid.uuid4().hex[:8]}", grant_types=["client_credentials"], scopes=["hello"]
    )
    basic = "Basic " + base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()
    http = Client()
    maker = ProofMaker()

    def token(proof: str | None = None):
        extra = {"HTTP_DPOP": proof} if proof is not None else {}
        body = urlencode({"grant_type": "client_credentials"})
        return http.post("/oauth2/token", body, content_type=FORM, HTTP_AUTHORIZATION=basic, **extra)

    bearer_token = token().json()["access_token"]
    bound_token = token(maker.proof("POST", TOKEN_URL)).json()["access_token"]

    # Each scenario: (a function of its prepared inputs making one request, the inputs for one round).
    scenarios = {
        "token_bearer": (lambda _: token(), lambda: [None] * requests),
        "token_dpop": (token, lambda: maker.proofs(requests, "POST", TOKEN_URL)),
        "api_bearer": (
            lambda _: http.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {bearer_token}"),
            lambda: [None] * requests,
        ),
        "api_dpop": (
            lambda proof: http.get("/helloworld/", HTTP_AUTHORIZATION=f"DPoP {bound_token}", HTTP_DPOP=proof),
            lambda: maker.proofs(requests, "GET", HELLO_URL, bound_token),
        ),
        "proof_verify": (
            lambda proof: dpop_proof_verify([proof], method="GET", url=HELLO_URL, access_token=bound_token),
            lambda: maker.proofs(requests, "GET", HELLO_URL, bound_token),
        ),
    }
    for name, (call, inputs) in scenarios.items():  # warm-up, and a check that every request succeeds
        for value in inputs()[:20]:
            answer = call(value)
            if getattr(answer, "status_code", 200) != 200:
                raise SystemExit(f"{name}: HTTP {answer.status_code} {answer.content[:200]!r}")
    samples: dict[str, dict[str, list[float]]] = {name: {"cpu": [], "wall": []} for name in scenarios}
    for _ in range(ROUNDS):
        for name, (call, inputs) in scenarios.items():
            prepared = inputs()
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            for value in prepared:
                call(value)
            samples[name]["cpu"].append((time.process_time() - cpu_started) / requests * 1e6)
            samples[name]["wall"].append((time.perf_counter() - wall_started) / requests * 1e6)
    return {
        name: {kind: round(sorted(values)[ROUNDS // 2]) for kind, values in sample.items()}
        for name, sample in samples.items()
    }


def recreate_database(url: str) -> None:
    """Drop and create the PostgreSQL database ``url`` names: each run starts from empty tables."""
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=300, help="requests per round (default 300)")
    parser.add_argument("--database", help="a PostgreSQL URL whose database is recreated; default: SQLite")
    parser.add_argument("--redis", help="a Redis URL, emptied; default: none")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.requests)))
        return
    with tempfile.TemporaryDirectory(prefix="oauthgw-bench-dpop-") as workdir:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTHGW_"))}
        env.pop("REDIS_URL", None)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "gatewayproj.settings",
                "DJANGO_LOG_LEVEL": "ERROR",
                "DATABASE_URL": args.database or f"sqlite:///{workdir}/gateway.sqlite3",
                "PYTHONPATH": str(ROOT),
                # The proofs name the test client's host; no purge thread in the middle of a round.
                "OAUTHGW_ISSUER": "http://testserver",
                "OAUTHGW_PURGE_INTERVAL": "0",
            }
        )
        if args.database:
            recreate_database(args.database)
        if args.redis:
            import redis

            redis.Redis.from_url(args.redis).flushdb()
            env["REDIS_URL"] = args.redis
        command = [sys.executable, str(Path(__file__)), "--measure", "-n", str(args.requests)]
        finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if finished.returncode != 0:
            raise SystemExit(finished.stderr)
    results = json.loads(finished.stdout.strip().splitlines()[-1])
    deployment = (
        "PostgreSQL + Redis"
        if args.database and args.redis
        else ("SQLite, no Redis" if not args.database else "PostgreSQL")
    )
    print(f"{deployment}, {args.requests} requests per round, median of {ROUNDS} rounds (µs per request)")
    for name, figures in results.items():
        print(f"{name:14} cpu {figures['cpu']:6}   wall {figures['wall']:6}")
    for kind, bearer, dpop in (("token endpoint", "token_bearer", "token_dpop"), ("API", "api_bearer", "api_dpop")):
        extra = results[dpop]["cpu"] - results[bearer]["cpu"]
        print(f"DPoP at the {kind}: +{extra} µs CPU per request ({extra / results[bearer]['cpu']:.0%})")


if __name__ == "__main__":
    main()
