"""A refresh that re-verifies its session with the upstream (``always``), next to one that does not (``never``).

    python bench/sessions.py          # about 2 minutes on 2 cores; results in bench/SESSIONS.md

Standalone (it shares ``bench/lua/`` and ``bench/common.py`` with ``bench/run.py``). It starts nginx as
the fast upstream, answering every ``POST /token``, the refresh grant included, with a
fixed token JSON that carries a refresh token; prepares one database with two clients
of the same gateway, one served by the default authorization server (``never``) and
one by an authorization-server row pointing at nginx with ``reverify=always``, and a
pool of sessions for each, spread over 1000 resource owners as real traffic is (the
login limits reserve a place per owner and address while a check is in flight);
measures SQL queries, CPU and wall time per refresh in-process; then serves the gateway under gunicorn
(``gunicorn.conf.py``) and drives both scenarios with wrk, interleaved, for
``BENCH_ROUNDS`` rounds, reporting the median round of each.

Environment: BENCH_DATABASE_URL (unset: SQLite in the work directory, the embedded
default), BENCH_REDIS_URL (unset: no Redis), BENCH_ROUNDS (3), BENCH_DURATION (10 s),
BENCH_WARMUP (3 s), BENCH_CONNECTIONS (16), BENCH_WORKERS / BENCH_THREADS (gunicorn.conf.py's
defaults), BENCH_POOL (sessions per scenario and round: 6000).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench.* is imported from the checkout
    sys.path.insert(0, str(ROOT))

from bench.common import basic, free_port, start_nginx, wait_for  # noqa: E402

LUA = ROOT / "bench" / "lua"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
POOL = int(os.environ.get("BENCH_POOL", "6000"))
SCENARIOS = ("refresh_never", "refresh_always")
OWNERS = 1000
SPARE = 402  # for the in-process figures: 2 to warm up and count queries, 400 timed
UPSTREAM_BODY = (
    '{"access_token":"upstream-token","token_type":"bearer","expires_in":3600,"refresh_token":"upstream-refresh"}'
)


# --- In the prepared database (run as ``python -m bench.sessions prepare|count``) ------------


def _prepare(out: Path, upstream_url: str) -> None:
    import uuid
    from datetime import timedelta
    from hashlib import sha256

    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    from oauthgw.encryption import encrypt
    from oauthgw.issuing.clients import client_create
    from oauthgw.issuing.resource_owners import resource_owner_upsert
    from oauthgw.models import AuthorizationServer, UpstreamSession

    server = AuthorizationServer.objects.create(
        name="nginx-always", token_url=upstream_url, client_id="oauthgw", client_secret="bench", reverify="always"
    )
    kept = encrypt("upstream-refresh")  # one ciphertext for every session: the cost is the same
    now = timezone.now()
    credentials = {}
    for scenario, server_row in (("refresh_never", None), ("refresh_always", server)):
        client, secret = client_create(
            name=f"bench-{scenario}", grant_types=["refresh_token"], scopes=["hello"], authorization_server=server_row
        )
        name = server_row.name if server_row else "default"
        owners = [resource_owner_upsert(authorization_server=name, subject=f"bench-{n}") for n in range(OWNERS)]
        raw = [uuid.uuid4().hex + uuid.uuid4().hex for _ in range(POOL * ROUNDS + SPARE)]
        families = [uuid.uuid4() for _ in raw]
        access = get_access_token_model().objects.bulk_create(
            [
                get_access_token_model()(
                    user=owners[n % OWNERS],
                    application=client,
                    expires=now + timedelta(hours=1),
                    scope="hello",
                    token_checksum=sha256(f"a{token}".encode()).hexdigest(),
                )
                for n, token in enumerate(raw)
            ],
            batch_size=2000,
        )
        get_refresh_token_model().objects.bulk_create(
            [
                get_refresh_token_model()(
                    user=owners[n % OWNERS],
                    application=client,
                    access_token=access[n],
                    token_family=families[n],
                    token_checksum=sha256(token.encode()).hexdigest(),
                )
                for n, token in enumerate(raw)
            ],
            batch_size=2000,
        )
        UpstreamSession.objects.bulk_create(
            [
                UpstreamSession(
                    family=family,
                    client=client,
                    user=owners[n % OWNERS],
                    authorization_server=name,
                    encrypted_refresh_token=kept,
                    started=now,
                    last_verified=now,
                )
                for n, family in enumerate(families)
            ],
            batch_size=2000,
        )
        credentials[scenario] = {"client_id": client.client_id, "client_secret": secret}
        (out / f"{scenario}.spare").write_text("\n".join(raw[:SPARE]) + "\n")
        for round_index in range(ROUNDS):
            share = raw[SPARE + round_index * POOL : SPARE + (round_index + 1) * POOL]
            cut = len(share) * WARMUP // (WARMUP + DURATION)
            (out / f"{scenario}.warmup{round_index}").write_text("\n".join(share[:cut]) + "\n")
            (out / f"{scenario}.measured{round_index}").write_text("\n".join(share[cut:]) + "\n")
    (out / "credentials.json").write_text(json.dumps(credentials))


def _in_process(out: Path) -> None:
    """SQL queries of one refresh, and CPU and wall time per refresh over the spare tokens, in this process.

    CPU time counts every thread of the process (the upstream call runs in one), so
    it says what a refresh costs the gateway whatever else the machine is doing.
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    credentials = json.loads((out / "credentials.json").read_text())
    figures = {}
    for scenario in SCENARIOS:
        spare = (out / f"{scenario}.spare").read_text().split()
        client = Client(HTTP_AUTHORIZATION=basic(credentials[scenario]))

        def refresh(token: str, client=client):
            body = urlencode({"grant_type": "refresh_token", "refresh_token": token})
            response = client.post("/oauth2/token", body, content_type="application/x-www-form-urlencoded")
            assert response.status_code == 200, response.content
            return response

        refresh(spare[0])
        with CaptureQueriesContext(connection) as captured:
            refresh(spare[1])
        queries = len(captured.captured_queries)  # now: a reconnection later clears the log
        cpu, wall = time.process_time(), time.perf_counter()
        for token in spare[2:]:
            refresh(token)
        measured = len(spare) - 2
        figures[scenario] = {
            "sql": queries,
            "cpu_ms": round((time.process_time() - cpu) * 1000 / measured, 2),
            "wall_ms": round((time.perf_counter() - wall) * 1000 / measured, 2),
        }
    print(json.dumps(figures))


# --- The run ------------------------------------------------------------------------------------


def wrk(port: int, tokens: Path, auth: str, seconds: int) -> dict:
    threads = 2
    env = {**os.environ, "BENCH_LUA_DIR": str(LUA), "BENCH_TOKENS": str(tokens), "BENCH_AUTH": auth}
    env["BENCH_THREADS"] = str(threads)
    command = ["wrk", "-t", str(threads), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "20s"]
    command += ["-s", str(LUA / "refresh.lua"), f"http://127.0.0.1:{port}/oauth2/token"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    raw = json.loads(re.search(r"^BENCH_JSON (.*)$", result.stdout, re.M).group(1))
    return {
        "requests_per_second": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "non_2xx": raw["errors"]["status"],
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] in ("prepare", "in-process"):
        import django

        django.setup()
        out = Path(sys.argv[2])
        _prepare(out, os.environ["BENCH_UPSTREAM_URL"]) if sys.argv[1] == "prepare" else _in_process(out)
        return
    subprocess.run(["bash", str(ROOT / "bench" / "install.sh")], check=True)
    workdir = Path(tempfile.mkdtemp(prefix="oauthgw-bench-sessions-"))
    nginx, upstream_port = start_nginx(workdir, UPSTREAM_BODY)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTHGW_"))}
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="gatewayproj.settings",
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'gateway.sqlite3'}",
        OAUTHGW_UPSTREAM_TOKEN_URL=f"http://127.0.0.1:{upstream_port}/token",
        BENCH_UPSTREAM_URL=f"http://127.0.0.1:{upstream_port}/token",
        PYTHONPATH=str(ROOT),
    )
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    gunicorn = None
    try:
        subprocess.run([sys.executable, "manage.py", "flush", "--noinput"], cwd=ROOT, env=env, capture_output=True)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([sys.executable, "-m", "bench.sessions", "prepare", str(workdir)], cwd=ROOT, env=env, check=True)
        counted = subprocess.run(
            [sys.executable, "-m", "bench.sessions", "in-process", str(workdir)],
            cwd=ROOT, env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
        in_process = json.loads(counted.stdout.strip().splitlines()[-1])
        print(f"[bench] in-process: {in_process}", flush=True)
        port = free_port()
        server_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_ACCESS_LOG": "0"}
        for name, variable in (("BENCH_WORKERS", "WEB_CONCURRENCY"), ("BENCH_THREADS", "GUNICORN_THREADS")):
            if os.environ.get(name):
                server_env[variable] = os.environ[name]
        log = (workdir / "gunicorn.log").open("w")
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "gatewayproj.wsgi"],
            cwd=ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_for(f"http://127.0.0.1:{port}/healthz")
        credentials = json.loads((workdir / "credentials.json").read_text())
        rounds = {scenario: [] for scenario in SCENARIOS}
        for round_index in range(ROUNDS):
            for scenario in SCENARIOS if round_index % 2 == 0 else reversed(SCENARIOS):
                auth = basic(credentials[scenario])
                if WARMUP:
                    wrk(port, workdir / f"{scenario}.warmup{round_index}", auth, WARMUP)
                figures = wrk(port, workdir / f"{scenario}.measured{round_index}", auth, DURATION)
                rounds[scenario].append(figures)
                print(f"[bench] round {round_index + 1} {scenario:15} {figures}", flush=True)
    finally:
        for process in (gunicorn, nginx):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)
    results = {}
    for scenario, figures in rounds.items():
        median = sorted(figures, key=lambda item: item["requests_per_second"])[(len(figures) - 1) // 2]
        results[scenario] = {**median, "in_process": in_process[scenario], "rounds": figures}
    deployment = "PostgreSQL" if "postgres" in env["DATABASE_URL"] else "SQLite"
    deployment += " + Redis" if env.get("REDIS_URL") else ", no Redis"
    print(json.dumps({"deployment": deployment, "cpus": os.cpu_count(), "results": results}, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
