"""CPU and wall time per request of each scenario, in-process, for quick A/B comparisons.

    python bench/cpu.py [-n REQUESTS] [--profile SCENARIO] [--embedded] [SCENARIO ...]

wrk's figures on 2 shared cores swing by tens of percent from run to run; one
thread calling the Django test client in a loop does not. It prepares its own
database (``BENCH_CPU_DATABASE``, default ``oauthgw_bench_cpu``; Redis: ``BENCH_REDIS``,
which it empties) and nginx upstream as ``bench/run.py`` does, or with
``--embedded`` the embedded default (SQLite in a temporary file, no Redis), then
reports, per scenario, the median of five rounds of the gateway process's CPU time
(``time.process_time``) and wall time per request. PostgreSQL's, Redis's and
nginx's CPU is not in the CPU figure, but their round trips are in the wall time.
The test client's own work (building the WSGI request) is in both, and the same
for every scenario. ``--profile`` prints cProfile's top functions for one scenario
(sorted by cumulative time; ``BENCH_PROFILE_SORT=tottime`` for time spent in each).
"""

import argparse
import cProfile
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402
from bench.common import per_request_us, start_nginx  # noqa: E402

DATABASE = os.environ.get("BENCH_CPU_DATABASE", "oauthgw_bench_cpu")
ROUNDS = 5


def measure(directory: Path, names: list[str], requests: int, profile: str | None) -> dict:
    import django

    django.setup()
    from bench.inprocess import scenarios

    calls = scenarios(directory)
    results = {}
    for name in names or list(calls):
        call = calls[name]
        for _ in range(20):  # warm-up: connections, caches
            check(name, call())
        if name == profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(requests):
                call()
            profiler.disable()
            order = os.environ.get("BENCH_PROFILE_SORT", "cumulative")
            pstats.Stats(profiler, stream=sys.stderr).sort_stats(order).print_stats(45)
        results[name] = per_request_us(call, requests, ROUNDS)
        print(f"{name:20} cpu {results[name]['cpu_us']:6} µs   wall {results[name]['wall_us']:6} µs", flush=True)
    return results


def check(name: str, response) -> None:
    if response.status_code != 200:
        raise SystemExit(f"{name}: HTTP {response.status_code} {response.content[:200]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", choices=[[], *run.SCENARIOS], default=[])
    parser.add_argument("-n", "--requests", type=int, default=300, help="requests per round (default 300)")
    parser.add_argument("--profile", choices=run.SCENARIOS)
    parser.add_argument(
        "--embedded", action="store_true", help="SQLite in a temporary file and no Redis, as `make run` serves"
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.scenarios, args.requests, args.profile)))
        return
    run.ensure_tools()
    workdir = Path(tempfile.mkdtemp(prefix="oauthgw-bench-cpu-"))
    upstream, port = start_nginx(workdir, run.UPSTREAM_BODY)
    try:
        deployment = run.Deployment("gateway", "bench.gateway_settings", "gatewayproj.wsgi", DATABASE)
        env = run.django_env(deployment, port)
        env["DJANGO_LOG_LEVEL"] = "WARNING"
        if args.embedded:
            env["DATABASE_URL"] = f"sqlite:///{workdir / 'gateway.sqlite3'}"
            env.pop("REDIS_URL")
        else:
            run.flush_redis()
            run.recreate_database(DATABASE)
        tokens = args.requests * (ROUNDS + 1) + 100
        out = workdir / "gateway"
        subprocess.run([run.PYTHON, "-m", "django", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        command = [run.PYTHON, "-m", "bench.prepare", "gateway", "--refresh-tokens", str(tokens), "--out", str(out)]
        subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        command = [run.PYTHON, "bench/cpu.py", "--measure", str(out), "-n", str(args.requests), *args.scenarios]
        if args.profile:
            command += ["--profile", args.profile]
        subprocess.run(command, cwd=ROOT, env=env, check=True)
    finally:
        run.stop(upstream)
        shutil.rmtree(workdir, ignore_errors=True)
        os.environ.pop("DJANGO_SETTINGS_MODULE", None)


if __name__ == "__main__":
    main()
