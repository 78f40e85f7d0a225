"""JWT access tokens against opaque ones, in one run: ``python bench/token_formats.py [-n REQUESTS]``.

Self-contained (no PostgreSQL, Redis, nginx or wrk): the embedded default, SQLite
in a temporary file and no Redis, as ``make run`` serves it. It measures

1. the signature algorithms alone (PyJWT over ``cryptography``, this process):
   signing and verifying a gateway-shaped token with ES256, RS256 (2048 bits)
   and, for reference, EdDSA (Ed25519), and the tokens' sizes;
2. in-process, through Django's test client in one thread (as ``bench/cpu.py``):
   issuing a client_credentials token to an opaque and to a jwt client, and
   HelloWorld called with each, CPU and wall time per request;
3. against a live gateway (gunicorn, 2 workers x 4 threads, on loopback): what an
   API on another machine pays per request to check a token, either an RFC 7662
   introspection call (a kept-alive HTTP connection, sequential calls) or a local
   verification by the external resource server of the end-to-end tests
   (``tests/support/external_resource_server.py``: PyJWT's ``PyJWKClient``, its
   JWKS fetched once, run as its own process).

Each figure is the median of five rounds of REQUESTS (default 300). Results are
printed as a Markdown table and written to bench/token_formats.json.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
VERIFIER = ROOT / "tests" / "support" / "external_resource_server.py"
RESULTS = ROOT / "bench" / "token_formats.json"
ROUNDS = 5
sys.path.insert(0, str(ROOT))

from bench.common import basic, free_port, per_request_us, wait_for  # noqa: E402


def median_us(call, requests: int) -> float:
    """Median over ROUNDS of the wall time per call, in microseconds."""
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(requests):
            call()
        rounds.append((time.perf_counter() - started) / requests * 1e6)
    return round(statistics.median(rounds), 1)


# --- 1. The algorithms -------------------------------------------------------------------


def algorithms(requests: int) -> dict:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    claims = {
        "iss": "https://gateway.example.com",
        "sub": "a-resource-owner-subject",
        "aud": "https://gateway.example.com",
        "client_id": "x" * 40,
        "scope": "hello",
        "jti": "y" * 22,
        "iat": int(time.time()),
        "exp": int(time.time()) + 300,
    }
    keys = {
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "EdDSA": ed25519.Ed25519PrivateKey.generate(),
    }
    results = {}
    for algorithm, private_key in keys.items():
        results[algorithm] = _algorithm(jwt, claims, algorithm, private_key, requests)
        print(f"  {algorithm:6} {results[algorithm]}", flush=True)
    return results


def _algorithm(jwt, claims: dict, algorithm: str, private_key, requests: int) -> dict:
    public_key = private_key.public_key()
    headers = {"typ": "at+jwt", "kid": "k" * 43}
    token = jwt.encode(claims, private_key, algorithm=algorithm, headers=headers)
    options = {"verify_exp": False, "verify_aud": False}
    return {
        "sign_us": median_us(lambda: jwt.encode(claims, private_key, algorithm=algorithm, headers=headers), requests),
        "verify_us": median_us(
            lambda: jwt.decode(token, public_key, algorithms=[algorithm], options=options), requests
        ),
        "token_bytes": len(token),
    }


# --- 2. In-process: issuance and the gateway's own bearer check -------------------------------


def measure_in_process(clients: dict, requests: int) -> dict:
    """Run inside the deployment's environment (``--measure``): CPU and wall time per request."""
    import django

    django.setup()
    from django.test import Client

    http = Client()

    def token(name: str):
        return lambda: http.post(
            "/oauth2/token",
            "grant_type=client_credentials",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic(clients[name]),
        )

    def hello(access_token: str):
        return lambda: http.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {access_token}")

    opaque_token = token("opaque")().json()["access_token"]
    jwt_token = token("jwt")().json()["access_token"]
    sizes = {"opaque_token_bytes": len(opaque_token), "jwt_token_bytes": len(jwt_token)}
    scenarios = {
        "issue_opaque": token("opaque"),
        "issue_jwt": token("jwt"),
        "helloworld_opaque": hello(opaque_token),
        "helloworld_jwt": hello(jwt_token),
    }
    results = {}
    for name, call in scenarios.items():
        for _ in range(20):  # warm-up: connections, the key schedule, the decrypted private key
            response = call()
            assert response.status_code == 200, (name, response.status_code, response.content[:200])
        results[name] = per_request_us(call, requests, ROUNDS)
    return {**results, "sizes": sizes}


# --- 3. A live gateway: introspection next to local verification ------------------------------


def live_gateway(env: dict, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (workdir / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "gatewayproj.wsgi"],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for(f"http://127.0.0.1:{port}/healthz")
    return process, f"http://127.0.0.1:{port}"


def introspection_vs_local(url: str, clients: dict, requests: int) -> dict:
    import requests as http

    session = http.Session()
    token = session.post(
        f"{url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(clients["jwt"]["client_id"], clients["jwt"]["client_secret"]),
        timeout=10,
    ).json()["access_token"]
    introspector = (clients["introspector"]["client_id"], clients["introspector"]["client_secret"])

    def introspect():
        answer = session.post(f"{url}/oauth2/introspect", data={"token": token}, auth=introspector, timeout=10)
        assert answer.json()["active"] is True

    for _ in range(20):
        introspect()
    introspection = median_us(introspect, requests)
    local = subprocess.run(
        [PYTHON, "-I", str(VERIFIER), url, url, "--repeat", str(requests)],
        input=token,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return {"introspection_call_us": introspection, **json.loads(local.stdout)}


# --- The run ----------------------------------------------------------------------------------


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout


def table(results: dict) -> str:
    lines = ["| algorithm | sign µs | verify µs | token bytes |", "| --- | ---: | ---: | ---: |"]
    for name, figures in results["algorithms"].items():
        lines.append(f"| {name} | {figures['sign_us']} | {figures['verify_us']} | {figures['token_bytes']} |")
    lines += ["", "| in-process, one thread | CPU µs/request | wall µs/request |", "| --- | ---: | ---: |"]
    for name, figures in results["in_process"].items():
        if name != "sizes":
            lines.append(f"| {name} | {figures['cpu_us']} | {figures['wall_us']} |")
    sizes = results["in_process"]["sizes"]
    lines += [
        "",
        f"Issued access tokens: opaque {sizes['opaque_token_bytes']} bytes, JWT {sizes['jwt_token_bytes']} bytes.",
    ]
    remote = results["api_check"]
    lines += [
        "",
        "| an API on another process checks a token | µs per check |",
        "| --- | ---: |",
        f"| RFC 7662 introspection call (HTTP keep-alive, loopback) | {remote['introspection_call_us']} |",
        f"| local JWT verification (PyJWT, JWKS cached) | {remote['verify_us']} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--requests", type=int, default=300, help="requests per round (default 300)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        clients = json.loads((args.measure / "clients.json").read_text())
        print(json.dumps(measure_in_process(clients, args.requests)))
        return

    load_before = os.getloadavg()[0]
    print("1. signature algorithms", flush=True)
    results = {"algorithms": algorithms(args.requests)}
    workdir = Path(tempfile.mkdtemp(prefix="oauthgw-bench-jwt-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTHGW_", "REDIS"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "gatewayproj.settings",
            "DATABASE_URL": f"sqlite:///{workdir / 'gateway.sqlite3'}",
            "DJANGO_LOG_LEVEL": "WARNING",
            "GUNICORN_ACCESS_LOG": "0",
            # Only client_credentials is measured: no upstream is asked.
            "OAUTHGW_UPSTREAM_TOKEN_URL": "http://127.0.0.1:9/token",
        }
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    gateway = None
    try:
        manage(env, "migrate", "-v0")
        clients = {
            name: json.loads(
                manage(env, "create_client", f"bench-{name}", "--grant-types", "client_credentials", *extra, "--json")
            )
            for name, extra in {
                "opaque": [],
                "jwt": ["--token-format", "jwt"],
                "introspector": ["--can-introspect"],
            }.items()
        }
        (workdir / "clients.json").write_text(json.dumps(clients))
        print("2. in-process: issuance and HelloWorld, opaque and JWT", flush=True)
        measured = subprocess.run(
            [PYTHON, "bench/token_formats.py", "--measure", str(workdir), "-n", str(args.requests)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results["in_process"] = json.loads(measured.stdout)
        print(f"  {results['in_process']}", flush=True)
        print("3. a live gateway: introspection call vs local verification", flush=True)
        gateway, url = live_gateway(env, workdir)
        results["api_check"] = introspection_vs_local(url, clients, args.requests)
        print(f"  {results['api_check']}", flush=True)
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)
    results["run"] = {
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "requests_per_round": args.requests,
        "load_average_before": load_before,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(results))


if __name__ == "__main__":
    main()
