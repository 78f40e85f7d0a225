"""The benchmark, in one command: ``python bench/run.py`` (see bench/README.md).

In one run on this machine it installs what is missing (bench/install.sh), starts
nginx on a loopback port as the fast upstream (a fixed token JSON at /token),
prepares two PostgreSQL databases (the gateway's and a stock django-oauth-toolkit
configuration's), counts SQL queries per request, then serves both under gunicorn
(same gunicorn.conf.py, same workers and threads) and drives each scenario with wrk
on the gateway and then on the stock configuration. Every figure is printed with its ratio to the stock configuration;
results go to bench/results.json and the table in bench/README.md.

Environment: BENCH_POSTGRES (postgres://postgres@127.0.0.1:5432), BENCH_REDIS
(redis://127.0.0.1:6379/12), BENCH_ROUNDS (3: every scenario is measured that many
times on each side, interleaved, and the median round is reported), BENCH_DURATION
(10 s per scenario and round), BENCH_WARMUP (3 s),
BENCH_WORKERS (2 per core), BENCH_THREADS (4), BENCH_CONNECTIONS (16; stock: 4).
"""

import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus, urlencode

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
LUA = BENCH / "lua"
PYTHON = sys.executable

POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12")
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
# Unset: gunicorn.conf.py's production defaults (2 workers per core, 4 threads each).
WORKERS = os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1)))
THREADS = os.environ.get("BENCH_THREADS", "4")
WRK_THREADS = 2
CONNECTIONS = {"gateway": int(os.environ.get("BENCH_CONNECTIONS", "16")), "stock": 4}
# Refresh tokens to pre-mint: enough for every round's warm-up and measurement at a generous rate.
REFRESH_POOL = {"gateway": 1500 * (DURATION + WARMUP) * ROUNDS, "stock": 50 * (DURATION + WARMUP) * ROUNDS}

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
    kind: str  # "gateway" or "stock"
    settings: str
    wsgi: str
    database: str

    @property
    def database_url(self) -> str:
        return f"{POSTGRES}/{self.database}"


GATEWAY = Deployment("gateway", "bench.gateway_settings", "gatewayproj.wsgi", "oauthgw_bench_gateway")
STOCK = Deployment("stock", "bench.stock_settings", "bench.stock_wsgi", "oauthgw_bench_stock")


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def basic(client: dict) -> str:
    pair = f"{quote_plus(client['client_id'])}:{quote_plus(client['client_secret'])}"
    return "Basic " + b64encode(pair.encode()).decode()


def ensure_tools() -> None:
    if not shutil.which("wrk") or not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        log("installing wrk and nginx (bench/install.sh)")
        subprocess.run(["bash", str(BENCH / "install.sh")], check=True)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def start_upstream(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    prefix = workdir / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        location = /token {{
            default_type application/json;
            return 200 '{UPSTREAM_BODY}';
        }}
    }}
}}
"""
    )
    process = subprocess.Popen(
        [nginx_binary(), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(f"http://127.0.0.1:{port}/token", method="POST")
    return process, port


def wait_for(url: str, *, method: str = "GET", timeout: float = 30.0) -> None:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)  # noqa: S310
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310  (loopback http only)
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer 200 within {timeout:g}s")
        time.sleep(0.2)


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
    if deployment.kind == "gateway":
        env.update({"REDIS_URL": REDIS, "OAUTHGW_UPSTREAM_TOKEN_URL": f"http://127.0.0.1:{upstream_port}/token"})
    else:
        env.pop("REDIS_URL", None)
    return env


def prepare(deployment: Deployment, env: dict, workdir: Path) -> Path:
    out = workdir / deployment.kind
    recreate_database(deployment.database)
    subprocess.run([PYTHON, "-m", "django", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    pool = str(REFRESH_POOL[deployment.kind])
    command = [PYTHON, "-m", "bench.prepare", deployment.kind, "--refresh-tokens", pool, "--out", str(out)]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    return out


def count_queries(env: dict, out: Path) -> dict:
    result = subprocess.run(
        [PYTHON, "-m", "bench.queries", str(out)], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def start_gunicorn(deployment: Deployment, env: dict, workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": WORKERS,
        "GUNICORN_THREADS": THREADS,
        "GUNICORN_ACCESS_LOG": "0",
    }
    server_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    logfile = (workdir / f"{deployment.kind}-gunicorn.log").open("w")
    process = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), deployment.wsgi],
        cwd=ROOT,
        env=server_env,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,
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


def scenario_requests(credentials: dict, out: Path) -> dict:
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
            "tokens": str(out / "refresh_tokens.txt"),
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


def measure(prepared: dict, workdir: Path) -> dict:
    """Both configurations are served at once and each scenario runs on one, then the other.

    An idle server costs nothing, and the machine's other load then falls on both
    sides of every ratio alike. Every round measures every scenario on both sides,
    so a burst of other work spoils one round, not the run; the median round counts.
    Every other round runs the scenarios in reverse order.
    """
    servers, specs = {}, {}
    rounds = {deployment.kind: {name: [] for name in SCENARIOS} for deployment in (GATEWAY, STOCK)}
    try:
        for deployment in (GATEWAY, STOCK):
            env, out = prepared[deployment.kind]
            specs[deployment.kind] = scenario_requests(json.loads((out / "credentials.json").read_text()), out)
            servers[deployment.kind] = start_gunicorn(deployment, env, workdir)
        for round_index in range(ROUNDS):
            # Every other round in reverse, so that no scenario always follows the same one.
            for name in SCENARIOS if round_index % 2 == 0 else reversed(SCENARIOS):
                for deployment in (GATEWAY, STOCK):
                    kind = deployment.kind
                    port = servers[kind][1]
                    warmup_spec, spec = split_pool(specs[kind][name], round_index)
                    if WARMUP:
                        wrk(port, warmup_spec, seconds=WARMUP, connections=CONNECTIONS[kind])
                    load_before = os.getloadavg()[0]
                    figures = wrk(port, spec, seconds=DURATION, connections=CONNECTIONS[kind])
                    # The 1-minute load average before a run shows whether other work shared the cores.
                    figures["load_average_before"] = round(load_before, 2)
                    rounds[kind][name].append(figures)
                    log(
                        f"round {round_index + 1}/{ROUNDS} {kind:8} {name:19}"
                        f" {figures['requests_per_second']:9.1f} req/s"
                        f"  p50 {figures['p50_ms']:8.2f} ms  p99 {figures['p99_ms']:8.2f} ms"
                        f"  non-2xx {figures['non_2xx']}  socket errors {figures['socket_errors']}"
                        f"  load {load_before:.2f}"
                    )
    finally:
        for process, _ in servers.values():
            stop(process)
    return {kind: {name: median_round(runs) for name, runs in by_name.items()} for kind, by_name in rounds.items()}


def targets(gateway: dict, stock: dict) -> list[dict]:
    def rps(results: dict, name: str) -> float:
        # A scenario that completed nothing (far too slow for the run) counts as 0.
        return results[name]["requests_per_second"] or 1e-9

    checks = [
        (
            "client_credentials >= 100x stock",
            rps(gateway, "client_credentials") / rps(stock, "client_credentials"),
            100,
        ),
        (
            "HelloWorld with bearer >= 0.9x unauthenticated floor",
            rps(gateway, "helloworld_bearer") / rps(gateway, "helloworld_floor"),
            0.9,
        ),
        ("password >= 0.7x client_credentials", rps(gateway, "password") / rps(gateway, "client_credentials"), 0.7),
        ("client_credentials >= 1000 req/s", rps(gateway, "client_credentials"), 1000),
        ("password >= 600 req/s", rps(gateway, "password"), 600),
        ("refresh_token >= 600 req/s", rps(gateway, "refresh_token"), 600),
    ]
    return [
        {"target": name, "value": round(value, 2), "goal": goal, "met": value >= goal} for name, value, goal in checks
    ]


def table(results: dict) -> str:
    gateway, stock, queries = results["gateway"], results["stock"], results["queries"]
    lines = [
        "| scenario | gateway req/s | p50 ms | p99 ms | SQL/req | stock req/s | p50 ms | p99 ms | SQL/req | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in SCENARIOS:
        ours, theirs = gateway[name], stock[name]
        ratio = ours["requests_per_second"] / max(theirs["requests_per_second"], 1e-9)
        lines.append(
            f"| {name} | {ours['requests_per_second']:.0f} | {ours['p50_ms']:.1f} | {ours['p99_ms']:.1f}"
            f" | {queries['gateway'][name]} | {theirs['requests_per_second']:.1f} | {theirs['p50_ms']:.1f}"
            f" | {theirs['p99_ms']:.1f} | {queries['stock'][name]} | {ratio:.1f}x |"
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
        f"Run of {meta['date']} on {meta['cpus']} CPUs ({meta['machine']}); median of {ROUNDS} interleaved "
        f"rounds of {DURATION} s per scenario after {WARMUP} s warm-up; gunicorn gthread {WORKERS} workers x "
        f"{THREADS} threads; wrk {WRK_THREADS} threads, {CONNECTIONS['gateway']} connections "
        f"(stock: {CONNECTIONS['stock']})."
    )
    readme.write_text(f"{head}{start}\n{header}\n\n{text}\n{end}{tail}")


def main() -> None:
    ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="oauthgw-bench-"))
    upstream, upstream_port = start_upstream(workdir)
    log(f"fast upstream: nginx on 127.0.0.1:{upstream_port}; work files in {workdir}")
    try:
        flush_redis()
        results = {"queries": {}}
        prepared = {}
        for deployment in (GATEWAY, STOCK):
            env = django_env(deployment, upstream_port)
            log(f"preparing {deployment.kind} database {deployment.database}")
            prepared[deployment.kind] = (env, prepare(deployment, env, workdir))
            results["queries"][deployment.kind] = count_queries(env, prepared[deployment.kind][1])
            log(f"{deployment.kind} SQL queries per request: {results['queries'][deployment.kind]}")
        results.update(measure(prepared, workdir))
    finally:
        stop(upstream)
    results["targets"] = targets(results["gateway"], results["stock"])
    results["run"] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "rounds": ROUNDS,
        "duration_s": DURATION,
        "warmup_s": WARMUP,
        "gunicorn": {"worker_class": "gthread", "workers": int(WORKERS), "threads": int(THREADS)},
        "wrk": {"threads": WRK_THREADS, "connections": CONNECTIONS},
    }
    (BENCH / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    text = table(results)
    write_readme_table(text, results)
    print()
    print(text)
    failed = [
        f"{kind}/{name}"
        for kind in ("gateway", "stock")
        for name, figures in results[kind].items()
        if figures["non_2xx"] or figures["socket_errors"]
    ]
    if failed:
        log(f"requests failed in {', '.join(failed)}: server logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
