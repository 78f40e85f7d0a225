"""The benchmark, in one command: ``python bench/run.py`` (see bench/README.md).

In one run on this machine it installs what is missing (bench/install.sh), starts
nginx on a loopback port as the fast upstream (a fixed token JSON at /token),
prepares the gateway's PostgreSQL database, a stock django-oauth-toolkit
configuration's, and the embedded default's SQLite file, counts SQL queries per
request, then serves:

- the gateway on PostgreSQL + Redis under granian (``python -m gatewayproj.server``),
- the same gateway and database under gunicorn (``gunicorn.conf.py``),
- the embedded default (SQLite, no Redis) under granian,
- the stock configuration under gunicorn,

each with its production defaults, and drives every scenario with wrk on each in
turn. Then it starts Glewlwyd (scripts/glewlwyd/start.sh) and measures its password
grant called directly against the gateway's with Glewlwyd as its upstream: at a
low fixed rate (bench/paced.py) for latency, then with wrk for throughput.
Results go to bench/results.json and the tables in bench/README.md.

Environment: BENCH_POSTGRES (postgres://postgres@127.0.0.1:5432), BENCH_REDIS
(redis://127.0.0.1:6379/12), BENCH_ROUNDS (3: every scenario is measured that many
times on each side, interleaved, and the median round is reported), BENCH_DURATION
(10 s per scenario and round), BENCH_WARMUP (3 s), BENCH_WORKERS (gunicorn: 2 per
core), BENCH_THREADS (gunicorn: 4), BENCH_GRANIAN_WORKERS (2 per core),
BENCH_GRANIAN_THREADS (4), BENCH_CONNECTIONS (16; stock: 4), BENCH_PACED_RATE (20
requests/s in all, to the three paths in turn), BENCH_PACED_SECONDS (40 per round), BENCH_GLEWLWYD (1; 0
skips the Glewlwyd part).
"""

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench.* is imported from the checkout
    sys.path.insert(0, str(ROOT))

from bench.common import basic, free_port, start_nginx, wait_for  # noqa: E402
from bench.paced import Target, paced, percentile  # noqa: E402

BENCH = ROOT / "bench"
LUA = BENCH / "lua"
PYTHON = sys.executable

POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "5")))
DURATION = int(os.environ.get("BENCH_DURATION", "6"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
# Each server at its production defaults, which are the same: 2 workers per core, 4
# threads each (gunicorn.conf.py, gatewayproj.server). On a machine shared with other
# work, the scheduler shares the cores by runnable process: equal counts, equal shares.
WORKERS = os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1)))
THREADS = os.environ.get("BENCH_THREADS", "4")
GRANIAN_WORKERS = os.environ.get("BENCH_GRANIAN_WORKERS", str(2 * (os.cpu_count() or 1)))
GRANIAN_THREADS = os.environ.get("BENCH_GRANIAN_THREADS", "4")
WRK_THREADS = 2
GATEWAY_CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
PACED_RATE = float(os.environ.get("BENCH_PACED_RATE", "20"))
PACED_SECONDS = float(os.environ.get("BENCH_PACED_SECONDS", "40"))
WITH_GLEWLWYD = os.environ.get("BENCH_GLEWLWYD", "1") != "0"
# Refresh tokens to pre-mint per side: enough for every round's warm-up and measurement
# at a generous rate. The gateway's database serves two sides (granian and gunicorn).
REFRESH_RATE = {"gateway": 800, "embedded": 800, "stock": 50}

UPSTREAM_BODY = '{"access_token":"upstream-token","token_type":"bearer","expires_in":3600}'
# The bearer check and its floor side by side, as their ratio is a target; the
# refresh grant, which leaves PostgreSQL the most work behind, last.
SCENARIOS = [
    "client_credentials",
    "password",
    "helloworld_bearer",
    "helloworld_floor",
    "introspection",
    "refresh_token",
]


@dataclass(frozen=True)
class Deployment:
    kind: str  # "gateway", "embedded" (SQLite, no Redis) or "stock"
    settings: str
    wsgi: str
    database: str  # a PostgreSQL database's name, or a SQLite URL

    @property
    def database_url(self) -> str:
        return self.database if "://" in self.database else f"{POSTGRES}/{self.database}"


GATEWAY = Deployment("gateway", "bench.gateway_settings", "gatewayproj.wsgi", "oauthgw_bench_gateway")
STOCK = Deployment("stock", "bench.stock_settings", "bench.stock_wsgi", "oauthgw_bench_stock")


def embedded(workdir: Path) -> Deployment:
    return Deployment("embedded", "bench.gateway_settings", "gatewayproj.wsgi", f"sqlite:///{workdir / 'embedded.db'}")


@dataclass(frozen=True)
class Side:
    """One server measured: a deployment served by granian or gunicorn, with its share of the refresh pool."""

    name: str
    deployment: Deployment
    server: str  # "granian" or "gunicorn"
    connections: int
    pool_share: int = 0  # which half of the deployment's refresh tokens it spends


def sides(embedded_deployment: Deployment) -> list[Side]:
    return [
        Side("granian", GATEWAY, "granian", GATEWAY_CONNECTIONS, 0),
        Side("gunicorn", GATEWAY, "gunicorn", GATEWAY_CONNECTIONS, 1),
        Side("embedded", embedded_deployment, "granian", GATEWAY_CONNECTIONS, 0),
        Side("stock", STOCK, "gunicorn", 4, 0),
    ]


def pool_shares(kind: str) -> int:
    return 2 if kind == "gateway" else 1


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def ensure_tools() -> None:
    if not shutil.which("wrk") or not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        log("installing wrk and nginx (bench/install.sh)")
        subprocess.run(["bash", str(BENCH / "install.sh")], check=True)


def recreate_database(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS).flushdb()


def django_env(deployment: Deployment, upstream_port: int) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTHGW_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": deployment.settings,
            "DJANGO_DEBUG": "0",
            "DATABASE_URL": deployment.database_url,
            "PYTHONPATH": str(ROOT),
        }
    )
    env.pop("REDIS_URL", None)
    if deployment.kind != "stock":
        env["OAUTHGW_UPSTREAM_TOKEN_URL"] = f"http://127.0.0.1:{upstream_port}/token"
    if deployment.kind == "gateway":
        env["REDIS_URL"] = REDIS
    return env


def prepare(deployment: Deployment, env: dict, workdir: Path) -> Path:
    out = workdir / deployment.kind
    if "://" in deployment.database:
        Path(deployment.database.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        recreate_database(deployment.database)
    subprocess.run([PYTHON, "-m", "django", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    shares = pool_shares(deployment.kind)
    pool = REFRESH_RATE[deployment.kind] * (DURATION + WARMUP) * ROUNDS * shares
    kind = "stock" if deployment.kind == "stock" else "gateway"
    command = [PYTHON, "-m", "bench.prepare", kind, "--refresh-tokens", str(pool), "--out", str(out)]
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    # Each side that serves this database spends its own tokens: a refresh token is good once.
    tokens = (out / "refresh_tokens.txt").read_text().split()
    size = len(tokens) // shares
    for share in range(shares):
        (out / f"refresh_tokens.{share}.txt").write_text("\n".join(tokens[share * size : (share + 1) * size]) + "\n")
    return out


def count_queries(env: dict, out: Path) -> dict:
    result = subprocess.run(
        [PYTHON, "-m", "bench.queries", str(out)], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def start_server(server: str, deployment: Deployment, env: dict, logfile: Path) -> tuple[subprocess.Popen, int]:
    """The deployment served by granian (gatewayproj.server) or gunicorn (gunicorn.conf.py), access log off."""
    port = free_port()
    if server == "granian":
        server_env = {
            **env,
            "GATEWAY_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": GRANIAN_WORKERS,
            "GATEWAY_THREADS": GRANIAN_THREADS,
            "GATEWAY_ACCESS_LOG": "0",
        }
        command = [PYTHON, "-m", "gatewayproj.server"]
    else:
        server_env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": WORKERS,
            "GUNICORN_THREADS": THREADS,
            "GUNICORN_ACCESS_LOG": "0",
        }
        command = [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), deployment.wsgi]
    server_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        command, cwd=ROOT, env=server_env, stdout=logfile.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    wait_for(f"http://127.0.0.1:{port}/bench/floor/")
    return process, port


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def scenario_requests(credentials: dict, out: Path, pool_share: int = 0) -> dict:
    owner = credentials["resource_owner"]
    return {
        "client_credentials": {
            "path": "/oauth2/token",
            "method": "POST",
            "body": "grant_type=client_credentials",
            "auth": basic(credentials["client_credentials"]),
        },
        "password": {
            "path": "/oauth2/token",
            "lua": "password.lua",
            "users": str(out / "usernames.txt"),
            "password": owner["password"],
            "auth": basic(credentials["password"]),
        },
        "refresh_token": {
            "path": "/oauth2/token",
            "lua": "refresh.lua",
            "tokens": str(out / f"refresh_tokens.{pool_share}.txt"),
            "auth": basic(credentials["password"]),
        },
        "helloworld_bearer": {"path": "/helloworld/", "auth": f"Bearer {credentials['access_token']}"},
        "helloworld_floor": {"path": "/bench/floor/"},
        "introspection": {
            "path": "/oauth2/introspect",
            "method": "POST",
            "body": urlencode({"token": credentials["access_token"]}),
            "auth": basic(credentials["introspection"]),
        },
    }


def wrk(port: int, spec: dict, *, seconds: int, connections: int) -> dict:
    env = {
        **os.environ,
        "BENCH_LUA_DIR": str(LUA),
        "BENCH_METHOD": spec.get("method", "GET"),
        "BENCH_BODY": spec.get("body", ""),
        "BENCH_AUTH": spec.get("auth", ""),
        "BENCH_TOKENS": spec.get("tokens", ""),
        "BENCH_USERS": spec.get("users", ""),
        "BENCH_PASSWORD": spec.get("password", ""),
        "BENCH_EXTRA": spec.get("extra", ""),
        "BENCH_THREADS": str(WRK_THREADS),
    }
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "20s"]
    command += ["-s", str(LUA / spec.get("lua", "request.lua")), f"http://127.0.0.1:{port}{spec['path']}"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    match = re.search(r"^BENCH_JSON (.*)$", result.stdout, re.MULTILINE)
    if not match:
        raise SystemExit(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(match.group(1))
    errors = raw["errors"]
    return {
        "requests_per_second": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    }


def split_pool(spec: dict, round_index: int) -> tuple[dict, dict]:
    """Each round's warm-up and measurement spend their own refresh tokens: a token is good once."""
    if "tokens" not in spec:
        return spec, spec
    pool = Path(spec["tokens"])
    tokens = pool.read_text().split()
    share = len(tokens) // ROUNDS
    mine = tokens[round_index * share : (round_index + 1) * share]
    cut = len(mine) * WARMUP // (WARMUP + DURATION)
    warmup = pool.with_suffix(f".warmup{round_index}")
    measured = pool.with_suffix(f".measured{round_index}")
    warmup.write_text("\n".join(mine[:cut]) + "\n")
    measured.write_text("\n".join(mine[cut:]) + "\n")
    return {**spec, "tokens": str(warmup)}, {**spec, "tokens": str(measured)}


def cpu_pressure() -> float | None:
    """The share of the last 10 s in which some runnable task waited for a CPU (Linux PSI), in %."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    return float(line.split()[1].removeprefix("avg10="))


def median_round(rounds: list[dict]) -> dict:
    """The round with the median rate (its latencies with it), and every round's rate."""
    ordered = sorted(rounds, key=lambda figures: figures["requests_per_second"])
    return {
        **ordered[(len(ordered) - 1) // 2],
        "rounds_requests_per_second": [figures["requests_per_second"] for figures in rounds],
        # Failures of any round, not only the median one's.
        "non_2xx": sum(figures["non_2xx"] for figures in rounds),
        "socket_errors": sum(figures["socket_errors"] for figures in rounds),
    }


def measure(prepared: dict, measured: list[Side], workdir: Path) -> dict:
    """Every side is served at once and each scenario runs on one, then the next.

    An idle server costs nothing, and the machine's other load then falls on all
    sides of every ratio alike. Every round measures every scenario on every side,
    so a burst of other work spoils one round, not the run; the median round counts.
    Every other round runs the scenarios in reverse order.
    """
    servers, specs = {}, {}
    rounds = {side.name: {name: [] for name in SCENARIOS} for side in measured}
    try:
        for side in measured:
            env, out = prepared[side.deployment.kind]
            credentials = json.loads((out / "credentials.json").read_text())
            specs[side.name] = scenario_requests(credentials, out, side.pool_share)
            servers[side.name] = start_server(side.server, side.deployment, env, workdir / f"{side.name}.log")
        for round_index in range(ROUNDS):
            # Every other round in reverse, so that no scenario always follows the same one.
            for name in SCENARIOS if round_index % 2 == 0 else reversed(SCENARIOS):
                for side in measured:
                    port = servers[side.name][1]
                    warmup_spec, spec = split_pool(specs[side.name][name], round_index)
                    if WARMUP:
                        wrk(port, warmup_spec, seconds=WARMUP, connections=side.connections)
                    load_before = os.getloadavg()[0]
                    figures = wrk(port, spec, seconds=DURATION, connections=side.connections)
                    # The 1-minute load average and the CPU pressure before a run show whether
                    # other work shared the cores.
                    figures["load_average_before"] = round(load_before, 2)
                    figures["cpu_pressure_before"] = cpu_pressure()
                    rounds[side.name][name].append(figures)
                    log(
                        f"round {round_index + 1}/{ROUNDS} {side.name:8} {name:19}"
                        f" {figures['requests_per_second']:9.1f} req/s"
                        f"  p50 {figures['p50_ms']:8.2f} ms  p99 {figures['p99_ms']:8.2f} ms"
                        f"  non-2xx {figures['non_2xx']}  socket errors {figures['socket_errors']}"
                        f"  load {load_before:.2f}  cpu pressure {figures['cpu_pressure_before']}%"
                    )
    finally:
        for process, _ in servers.values():
            stop(process)
    return {
        name: {scenario: median_round(runs) for scenario, runs in by_name.items()} for name, by_name in rounds.items()
    }


# --- The façade's cost against a real authorization server -----------------------------

GLEWLWYD_CLIENT = {"client_id": "gateway-client", "client_secret": "gateway-secret"}
GLEWLWYD_SCOPE = "upstream"
GLEWLWYD_USERS = 16


def start_glewlwyd(workdir: Path, password: str) -> tuple[Path, str, list[str]]:
    """A fresh Glewlwyd with GLEWLWYD_USERS users sharing one password; returns its state dir, URL, users."""
    state = workdir / "glewlwyd"
    users = [f"bench-glw-{n}" for n in range(GLEWLWYD_USERS)]
    env = {
        **os.environ,
        "UPSTREAM_PORT": str(free_port()),
        "UPSTREAM_CLIENT_ID": GLEWLWYD_CLIENT["client_id"],
        "UPSTREAM_CLIENT_SECRET": GLEWLWYD_CLIENT["client_secret"],
        "UPSTREAM_USER": users[0],
        "UPSTREAM_PASSWORD": password,
        "UPSTREAM_EXTRA_USERS": "\n".join(f"{user}:{password}" for user in users[1:]),
        "UPSTREAM_SCOPE": GLEWLWYD_SCOPE,
        "UPSTREAM_LOG_LEVEL": "ERROR",
    }
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "glewlwyd" / "start.sh"), str(state)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return state, lines["TOKEN_ENDPOINT"], users


def stop_glewlwyd(state: Path) -> None:
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "glewlwyd" / "stop.sh"), str(state)], check=False, capture_output=True
    )


def facade_cost(prepared: dict, embedded_deployment: Deployment, workdir: Path) -> dict:
    """Glewlwyd's password grant called directly, and through the gateway (PostgreSQL + Redis, and SQLite).

    First at PACED_RATE requests/s in all, request by request to each path in turn
    (latency; all rounds pooled), then with wrk (throughput, the median round), the
    three paths interleaved in every round.
    """
    credentials = {kind: json.loads((prepared[kind][1] / "credentials.json").read_text()) for kind in prepared}
    password = credentials["gateway"]["resource_owner"]["password"]
    state, token_url, users = start_glewlwyd(workdir, password)
    users_file = workdir / "glewlwyd-users.txt"
    users_file.write_text("\n".join(users) + "\n")
    parts = urlsplit(token_url)
    servers = {}
    try:
        targets = {"direct": (parts.port, parts.path, basic(GLEWLWYD_CLIENT), f"&scope={GLEWLWYD_SCOPE}")}
        for name, kind in (("gateway", "gateway"), ("embedded", "embedded")):
            env = {
                **prepared[kind][0],
                "OAUTHGW_UPSTREAM_TOKEN_URL": token_url,
                "OAUTHGW_UPSTREAM_CLIENT_ID": GLEWLWYD_CLIENT["client_id"],
                "OAUTHGW_UPSTREAM_CLIENT_SECRET": GLEWLWYD_CLIENT["client_secret"],
                "OAUTHGW_UPSTREAM_SCOPE": GLEWLWYD_SCOPE,
            }
            deployment = GATEWAY if kind == "gateway" else embedded_deployment
            servers[name] = start_server("granian", deployment, env, workdir / f"glewlwyd-{name}.log")
            targets[name] = (servers[name][1], "/oauth2/token", basic(credentials[kind]["password"]), "")
        paced_targets = {}
        for name, (port, path, auth, extra) in targets.items():
            bodies = [f"grant_type=password&username={user}&password={password}{extra}" for user in users]
            headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
            paced_targets[name] = Target(f"http://127.0.0.1:{port}{path}", bodies, headers)
        # Warm-up: connections, the gateways' first logins of each user (which create their rows).
        paced([Target(t.url, t.bodies, t.headers) for t in paced_targets.values()], rate=PACED_RATE, seconds=5)
        saturation = {name: [] for name in targets}
        for round_index in range(ROUNDS):
            order = list(targets) if round_index % 2 == 0 else list(reversed(targets))
            paced([paced_targets[name] for name in order], rate=PACED_RATE, seconds=PACED_SECONDS)
            summary = {
                name: round(percentile(sorted(target.latencies_ms), 0.5), 1) for name, target in paced_targets.items()
            }
            log(
                f"round {round_index + 1}/{ROUNDS} glewlwyd paced, {PACED_RATE:g}/s in all, p50 so far: {summary}"
                f"  cpu pressure {cpu_pressure()}%"
            )
            for name in order:
                port, path, auth, extra = targets[name]
                spec = {
                    "path": path,
                    "lua": "password.lua",
                    "users": str(users_file),
                    "password": password,
                    "auth": auth,
                    "extra": extra,
                }
                if WARMUP:
                    wrk(port, spec, seconds=WARMUP, connections=4)
                figures = wrk(port, spec, seconds=DURATION, connections=4)
                saturation[name].append(figures)
                log(
                    f"round {round_index + 1}/{ROUNDS} glewlwyd {name:8} saturated:"
                    f" {figures['requests_per_second']:.1f} req/s p50 {figures['p50_ms']:.1f} ms"
                    f" non-2xx {figures['non_2xx']} socket errors {figures['socket_errors']}"
                )
    finally:
        for process, _ in servers.values():
            stop(process)
        stop_glewlwyd(state)
    return {
        "rate": PACED_RATE,
        "paced": {
            name: {
                "requests": len(target.latencies_ms) + target.failed,
                "failed": target.failed,
                "p50_ms": round(percentile(sorted(target.latencies_ms), 0.50), 3),
                "p90_ms": round(percentile(sorted(target.latencies_ms), 0.90), 3),
                "p99_ms": round(percentile(sorted(target.latencies_ms), 0.99), 3),
            }
            for name, target in paced_targets.items()
        },
        "saturation": {name: median_round(runs) for name, runs in saturation.items()},
    }


# --- Targets and tables -----------------------------------------------------------------


def rps(results: dict, name: str) -> float:
    # A scenario that completed nothing (far too slow for the run) counts as 0.
    return results[name]["requests_per_second"] or 1e-9


def targets(results: dict) -> list[dict]:
    granian, gunicorn, embedded_side, stock = (results[name] for name in ("granian", "gunicorn", "embedded", "stock"))
    checks = [
        (
            "HelloWorld with a bearer token >= 2x the gateway under gunicorn gthread",
            rps(granian, "helloworld_bearer") / rps(gunicorn, "helloworld_bearer"),
            2,
            ">=",
        ),
        (
            "HelloWorld with a bearer token >= 0.9x the same server's unauthenticated floor",
            rps(granian, "helloworld_bearer") / rps(granian, "helloworld_floor"),
            0.9,
            ">=",
        ),
        (
            "client_credentials >= 150x stock django-oauth-toolkit (PostgreSQL)",
            rps(granian, "client_credentials") / rps(stock, "client_credentials"),
            150,
            ">=",
        ),
        (
            "client_credentials on SQLite >= 0.7x on PostgreSQL",
            rps(embedded_side, "client_credentials") / rps(granian, "client_credentials"),
            0.7,
            ">=",
        ),
        (
            "password >= 0.6x client_credentials (fast upstream)",
            rps(granian, "password") / rps(granian, "client_credentials"),
            0.6,
            ">=",
        ),
    ]
    facade = results.get("glewlwyd")
    if facade:
        direct, gateway = facade["paced"]["direct"], facade["paced"]["gateway"]
        checks += [
            ("added p50 latency over Glewlwyd direct <= 3 ms", gateway["p50_ms"] - direct["p50_ms"], 3, "<="),
            ("added p99 latency over Glewlwyd direct <= 10 ms", gateway["p99_ms"] - direct["p99_ms"], 10, "<="),
        ]
    return [
        {
            "target": name,
            "value": round(value, 2),
            "goal": goal,
            "met": value >= goal if sense == ">=" else value <= goal,
        }
        for name, value, goal, sense in checks
    ]


def table(results: dict) -> str:
    queries = results["queries"]
    granian, gunicorn, embedded_side, stock = (results[name] for name in ("granian", "gunicorn", "embedded", "stock"))

    def cell(figures: dict) -> str:
        return f"{figures['requests_per_second']:.0f} | {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f}"

    lines = [
        "Servers, same gateway and database (PostgreSQL + Redis):",
        "",
        "| scenario | granian req/s | p50 ms | p99 ms | gunicorn req/s | p50 ms | p99 ms | granian / gunicorn |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in SCENARIOS:
        ratio = rps(granian, name) / rps(gunicorn, name)
        lines.append(f"| {name} | {cell(granian[name])} | {cell(gunicorn[name])} | {ratio:.2f}x |")
    lines += [
        "",
        "Deployments under granian, and the stock toolkit (gunicorn); SQL statements per request:",
        "",
        "| scenario | PostgreSQL + Redis req/s | SQL | SQLite, no Redis req/s | p50 ms | p99 ms | SQL"
        " | SQLite / PostgreSQL | stock req/s | p50 ms | p99 ms | SQL | gateway / stock |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in SCENARIOS:
        lines.append(
            f"| {name} | {rps(granian, name):.0f} | {queries['gateway'][name]} | {cell(embedded_side[name])}"
            f" | {queries['embedded'][name]} | {rps(embedded_side, name) / rps(granian, name):.2f}x"
            f" | {stock[name]['requests_per_second']:.1f} | {stock[name]['p50_ms']:.1f} | {stock[name]['p99_ms']:.1f}"
            f" | {queries['stock'][name]} | {rps(granian, name) / rps(stock, name):.1f}x |"
        )
    facade = results.get("glewlwyd")
    if facade:
        paced_figures, saturated = facade["paced"], facade["saturation"]
        direct = paced_figures["direct"]
        lines += [
            "",
            f"Password grant against Glewlwyd: {facade['rate']:g} requests/s in all, sent to each path in turn"
            " (latency from when each request was due, every round pooled), then each path saturated (wrk, 4"
            " connections, the median round):",
            "",
            "| path | p50 ms | p99 ms | added p50 ms | added p99 ms | saturated req/s | vs direct |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        labels = {
            "direct": "Glewlwyd directly",
            "gateway": "gateway (PostgreSQL + Redis) -> Glewlwyd",
            "embedded": "gateway (SQLite, no Redis) -> Glewlwyd",
        }
        for name, label in labels.items():
            ours = paced_figures[name]
            rate = saturated[name]["requests_per_second"]
            lines.append(
                f"| {label} | {ours['p50_ms']:.1f} | {ours['p99_ms']:.1f}"
                f" | {ours['p50_ms'] - direct['p50_ms']:+.1f} | {ours['p99_ms'] - direct['p99_ms']:+.1f}"
                f" | {rate:.0f} | {rate / max(saturated['direct']['requests_per_second'], 1e-9):.2f}x |"
            )
    lines += ["", "| target | measured | goal | met |", "| --- | ---: | ---: | --- |"]
    for target in results["targets"]:
        lines.append(
            f"| {target['target']} | {target['value']} | {target['goal']} | {'yes' if target['met'] else 'NO'} |"
        )
    return "\n".join(lines)


def write_readme_table(text: str, results: dict) -> None:
    readme = BENCH / "README.md"
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    content = readme.read_text()
    if start not in content or end not in content:
        return
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    meta = results["run"]
    header = (
        f"Run of {meta['date']} on {meta['cpus']} CPUs ({meta['machine']}), `python bench/run.py`; median of"
        f" {ROUNDS} interleaved rounds of {DURATION} s per scenario after {WARMUP} s warm-up; granian"
        f" {GRANIAN_WORKERS} workers x {GRANIAN_THREADS} threads, gunicorn gthread {WORKERS} workers x {THREADS}"
        f" threads; wrk {WRK_THREADS} threads, {GATEWAY_CONNECTIONS} connections (stock: 4)."
    )
    readme.write_text(f"{head}{start}\n{header}\n\n{text}\n{end}{tail}")


def main() -> None:
    ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="oauthgw-bench-"))
    upstream, upstream_port = start_nginx(workdir, UPSTREAM_BODY)
    log(f"fast upstream: nginx on 127.0.0.1:{upstream_port}; work files in {workdir}")
    embedded_deployment = embedded(workdir)
    measured = sides(embedded_deployment)
    try:
        flush_redis()
        results = {"queries": {}}
        prepared = {}
        for deployment in (GATEWAY, embedded_deployment, STOCK):
            env = django_env(deployment, upstream_port)
            log(f"preparing {deployment.kind} database {deployment.database}")
            prepared[deployment.kind] = (env, prepare(deployment, env, workdir))
            results["queries"][deployment.kind] = count_queries(env, prepared[deployment.kind][1])
            log(f"{deployment.kind} SQL queries per request: {results['queries'][deployment.kind]}")
        results.update(measure(prepared, measured, workdir))
        if WITH_GLEWLWYD:
            results["glewlwyd"] = facade_cost(prepared, embedded_deployment, workdir)
    finally:
        stop(upstream)
    results["targets"] = targets(results)
    results["run"] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python bench/run.py",
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "rounds": ROUNDS,
        "duration_s": DURATION,
        "warmup_s": WARMUP,
        "granian": {
            "interface": "rsgi (gatewayproj.rsgi)",
            "workers": int(GRANIAN_WORKERS),
            "threads": int(GRANIAN_THREADS),
        },
        "gunicorn": {"worker_class": "gthread", "workers": int(WORKERS), "threads": int(THREADS)},
        "wrk": {"threads": WRK_THREADS, "connections": {"gateway": GATEWAY_CONNECTIONS, "stock": 4}},
        "sides": {side.name: f"{side.deployment.kind} under {side.server}" for side in measured},
        "cpu_pressure_at_end": cpu_pressure(),
    }
    (BENCH / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    text = table(results)
    write_readme_table(text, results)
    print()
    print(text)
    failed = [
        f"{side.name}/{name}"
        for side in measured
        for name, figures in results[side.name].items()
        if figures["non_2xx"] or figures["socket_errors"]
    ]
    facade = results.get("glewlwyd", {})
    failed += [f"glewlwyd/{name} paced" for name, figures in facade.get("paced", {}).items() if figures["failed"]]
    failed += [
        f"glewlwyd/{name} saturated"
        for name, figures in facade.get("saturation", {}).items()
        if figures["non_2xx"] or figures["socket_errors"]
    ]
    if failed:
        log(f"requests failed in {', '.join(failed)}: server logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
