#!/usr/bin/env python3
"""A bounded soak of the gateway: gunicorn on PostgreSQL and Redis, mixed traffic, an upstream outage.

    .venv/bin/python bench/soak.py [--duration 180] [--clients 8] [--json PATH]

Everything runs on loopback and stops by itself after ``--duration`` seconds of
load (plus set-up and a final check of every token):

1. a fresh PostgreSQL database (``--database-url``, its name must contain "soak";
   dropped and created again) is migrated, a fresh Redis database (``--redis-url``,
   not number 0; flushed) holds the cache, and a client is registered;
2. the development authorization server (scripts/dev_authorization_server.py) runs
   as the upstream with its own users;
3. gunicorn serves the gateway: ``-k gthread --threads 8 -w 2`` on a free port,
   behind one pretend proxy (``OAUTHGW_TRUSTED_PROXY_COUNT=1``) so every simulated
   user has an address of its own in X-Forwarded-For;
4. ``--clients`` threads log in, refresh, call HelloWorld and now and then revoke a
   token; one more thread guesses passwords (it must be throttled, 429);
5. from 40 % to 60 % of the run the upstream is stopped, then started again on the
   same port: logins get 503 until it is back and the breaker's cool-down is over;
   refreshes and HelloWorld calls need no upstream and keep working;
6. at the end every token is checked: the current pair of every session still
   works (HelloWorld, then a refresh), revoked and rotated-away tokens are refused.

The report (JSON, and a table on stdout) counts requests by kind and status,
flags any 5xx other than the outage's 503s on logins and any lost token, and gives
the gateway's memory (RSS of the master and its workers) at start and end.
Exit status 0 means: no unexpected 5xx, no lost token, revocations took effect at once.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis
import requests
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.processes import DevAuthorizationServerProcess, free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
UPSTREAM_CLIENT = ("oauthgw", "oauthgw-dev-secret")
BREAKER_COOLDOWN = 5
UPSTREAM_TIMEOUT = 2
USERS = 40
# Shares of the simulated users' actions (the rest are HelloWorld calls).
LOGIN_SHARE, REFRESH_SHARE, REVOKE_SHARE = 0.15, 0.30, 0.03


# --- set-up -----------------------------------------------------------------------------


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        sys.exit(f"refusing {url}: the soak runs on loopback only")


def fresh_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    if "soak" not in name:
        sys.exit(f"refusing to drop database {name!r}: its name must contain 'soak'")
    admin = urlsplit(url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def fresh_redis(url: str) -> None:
    if (urlsplit(url).path.lstrip("/") or "0") == "0":
        sys.exit("refusing to flush Redis database 0: give the soak a database of its own, e.g. /11")
    redis.Redis.from_url(url).flushdb()


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


class Gateway:
    """gunicorn serving gatewayproj.wsgi; knows its master's and workers' memory."""

    def __init__(self, env: dict, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "gunicorn.log"
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "gatewayproj.wsgi",
            "-k", "gthread", "--threads", "8", "-w", "2", "--bind", f"127.0.0.1:{self.port}",
        ]  # fmt: skip
        with open(self.log, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        wait_for_port(self.port, timeout=20.0)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def memory(self) -> dict:
        """RSS in MiB of the master and each worker."""
        master = self.process.pid
        workers = sorted(pid for pid in _children(master))
        return {
            "master_mib": _rss_mib(master),
            "workers_mib": {str(pid): _rss_mib(pid) for pid in workers},
            "total_mib": round(_rss_mib(master) + sum(_rss_mib(pid) for pid in workers), 1),
        }


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(entry.name))
    return children


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


# --- traffic ----------------------------------------------------------------------------


@dataclass
class Session:
    username: str
    access: str
    refresh: str
    revoked: bool = False


@dataclass
class Ledger:
    """What the clients saw, shared by their threads."""

    outage: list[float] = field(default_factory=list)  # [stopped at, started again at]
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    outage_logins: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    rotated_away: list[str] = field(default_factory=list)
    late_revocations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, response: requests.Response, elapsed: float, started: float) -> None:
        with self.lock:
            self.statuses[kind][response.status_code] += 1
            self.latencies[kind].append(elapsed)
            if response.status_code < 500:
                return
            if kind == "login" and response.status_code == 503 and self.in_outage(started):
                self.outage_logins["503"] += 1
                self.latencies["login during outage"].append(elapsed)
                return
            self.unexpected.append(f"{kind} {response.status_code} at {started:.1f}s: {response.text[:120]}")

    def in_outage(self, moment: float) -> bool:
        # Logins may be refused until the breaker's cool-down after the restart is over.
        if not self.outage:
            return False
        end = self.outage[1] if len(self.outage) > 1 else float("inf")
        return self.outage[0] - UPSTREAM_TIMEOUT <= moment <= end + BREAKER_COOLDOWN + UPSTREAM_TIMEOUT + 1


class SimulatedClient(threading.Thread):
    """One application's users: logs in, refreshes, calls HelloWorld, sometimes revokes."""

    def __init__(self, number: int, gateway: str, app: dict, users: dict[str, str], ledger: Ledger, until: float, t0):
        super().__init__(name=f"client-{number}", daemon=True)
        self.gateway, self.ledger, self.until, self.t0 = gateway, ledger, until, t0
        self.random = random.Random(number)
        self.users = users
        self.http = requests.Session()
        self.http.auth = (app["client_id"], app["client_secret"])
        self.http.headers["X-Forwarded-For"] = f"10.{number}.0.1"
        self.sessions: list[Session] = []

    def call(self, kind: str, method: str, path: str, **kwargs) -> requests.Response:
        started = time.monotonic()
        response = self.http.request(method, self.gateway + path, timeout=30, **kwargs)
        self.ledger.record(kind, response, time.monotonic() - started, started - self.t0)
        return response

    def run(self) -> None:
        while time.monotonic() < self.until:
            live = [session for session in self.sessions if not session.revoked]
            roll = self.random.random()
            if not live or roll < LOGIN_SHARE:
                self.login()
            elif roll < LOGIN_SHARE + REFRESH_SHARE:
                self.refresh(self.random.choice(live))
            elif roll < LOGIN_SHARE + REFRESH_SHARE + REVOKE_SHARE:
                self.revoke(self.random.choice(live))
            else:
                self.hello(self.random.choice(live))
        with self.ledger.lock:
            self.ledger.sessions.extend(self.sessions)

    def login(self) -> None:
        username = self.random.choice(list(self.users))
        form = {"grant_type": "password", "username": username, "password": self.users[username]}
        response = self.call("login", "POST", "/oauth2/token", data=form)
        if response.status_code == 200:
            tokens = response.json()
            self.sessions.append(Session(username, tokens["access_token"], tokens["refresh_token"]))

    def refresh(self, session: Session) -> None:
        form = {"grant_type": "refresh_token", "refresh_token": session.refresh}
        response = self.call("refresh", "POST", "/oauth2/token", data=form)
        if response.status_code == 200:
            tokens = response.json()
            with self.ledger.lock:
                self.ledger.rotated_away.append(session.access)
            session.access, session.refresh = tokens["access_token"], tokens["refresh_token"]
        elif response.status_code < 500:
            with self.ledger.lock:
                self.ledger.lost.append(
                    f"refresh of a live session refused: {response.status_code} {response.text[:80]}"
                )
            session.revoked = True

    def hello(self, session: Session) -> None:
        response = self.call("helloworld", "GET", "/helloworld/", auth=Bearer(session.access))
        if response.status_code != 200 and response.status_code < 500:
            with self.ledger.lock:
                self.ledger.lost.append(f"live access token refused: {response.status_code} {response.text[:80]}")
            session.revoked = True

    def revoke(self, session: Session) -> None:
        token = session.refresh if self.random.random() < 0.5 else session.access
        self.call("revoke", "POST", "/oauth2/revoke", data={"token": token})
        session.revoked = True
        # Revoking either token ends the pair, at once, on whichever worker answers next.
        check = self.call("helloworld after revoke", "GET", "/helloworld/", auth=Bearer(session.access))
        if check.status_code != 401:
            with self.ledger.lock:
                self.ledger.late_revocations += 1


class PasswordGuesser(threading.Thread):
    """Wrong passwords for made-up usernames from one address: must end in 429s, never reach 5xx."""

    def __init__(self, gateway: str, app: dict, ledger: Ledger, until: float, t0: float):
        super().__init__(name="guesser", daemon=True)
        self.gateway, self.ledger, self.until, self.t0 = gateway, ledger, until, t0
        self.http = requests.Session()
        self.http.auth = (app["client_id"], app["client_secret"])
        self.http.headers["X-Forwarded-For"] = "203.0.113.66"

    def run(self) -> None:
        attempt = 0
        while time.monotonic() < self.until:
            attempt += 1
            form = {"grant_type": "password", "username": f"intruder-{attempt % 7}", "password": f"guess-{attempt}"}
            started = time.monotonic()
            response = self.http.post(self.gateway + "/oauth2/token", data=form, timeout=30)
            self.ledger.record("guess", response, time.monotonic() - started, started - self.t0)
            time.sleep(0.2)


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


# --- the final check --------------------------------------------------------------------


def check_every_token(gateway: str, app: dict, ledger: Ledger) -> dict:
    http = requests.Session()
    http.auth = (app["client_id"], app["client_secret"])
    http.headers["X-Forwarded-For"] = "10.250.0.1"
    results = Counter()
    for session in ledger.sessions:
        hello = http.get(gateway + "/helloworld/", auth=Bearer(session.access), timeout=30)
        refreshed = http.post(
            gateway + "/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": session.refresh},
            timeout=30,
        )
        if session.revoked:
            ok = hello.status_code == 401 and refreshed.status_code == 401
            results["revoked pairs refused" if ok else "revoked pairs STILL WORKING"] += 1
            continue
        works = hello.status_code == 200 and refreshed.status_code == 200
        if works:
            again = http.get(gateway + "/helloworld/", auth=Bearer(refreshed.json()["access_token"]), timeout=30)
            works = again.status_code == 200
        results["live pairs working" if works else "live pairs LOST"] += 1
        if not works:
            ledger.lost.append(f"final check: hello {hello.status_code}, refresh {refreshed.status_code}")
    for token in ledger.rotated_away[:300]:
        hello = http.get(gateway + "/helloworld/", auth=Bearer(token), timeout=30)
        results["rotated-away access tokens refused" if hello.status_code == 401 else "rotated-away STILL WORKING"] += 1
    return dict(results)


# --- the run ----------------------------------------------------------------------------


def _log_errors(log: Path) -> int:
    """ERROR lines and tracebacks the gateway wrote (4xx warnings are expected)."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return sum(1 for line in text.splitlines() if '"level": "ERROR"' in line or line.startswith("Traceback"))


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(ledger: Ledger, duration: float) -> dict:
    kinds = {}
    for kind in sorted(ledger.latencies):
        values = ledger.latencies[kind]
        kinds[kind] = {
            "requests": len(values),
            "statuses": {str(status): count for status, count in sorted(ledger.statuses.get(kind, {}).items())},
            "p50_ms": round(statistics.median(values) * 1000, 1) if values else 0,
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "p99_ms": round(percentile(values, 0.99) * 1000, 1),
            "max_ms": round(max(values, default=0) * 1000, 1),
        }
    total = sum(len(ledger.latencies[kind]) for kind in ledger.statuses)
    return {"requests": total, "per_second": round(total / duration, 1), "by_kind": kinds}


def print_table(report: dict) -> None:
    print()
    print(f"Soak: {report['duration_s']} s of load, {report['clients']} clients + 1 guesser, "
          f"upstream down {report['outage']['stopped_at_s']}-{report['outage']['started_at_s']} s")  # fmt: skip
    print(f"{'kind':<22}{'requests':>9}  {'statuses':<34}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    for kind, row in report["traffic"]["by_kind"].items():
        statuses = ", ".join(f"{status}: {count}" for status, count in row["statuses"].items()) or "-"
        print(
            f"{kind:<22}{row['requests']:>9}  {statuses:<34}"
            f"{row['p50_ms']:>8}{row['p95_ms']:>8}{row['p99_ms']:>8}{row['max_ms']:>8}"
        )
    print(f"total {report['traffic']['requests']} requests, {report['traffic']['per_second']}/s")
    print(f"5xx other than the outage's login 503s: {len(report['unexpected_5xx'])}")
    print(f"tokens lost: {len(report['lost_tokens'])}; revocations not effective at once: {report['late_revocations']}")
    print("final check: " + ", ".join(f"{name}: {count}" for name, count in report["final_check"].items()))
    memory = report["memory"]
    print(
        f"gateway RSS (master + 2 workers): {memory['start']['total_mib']} MiB at start, "
        f"{memory['after_warm_up']['total_mib']} MiB after warm-up, {memory['end']['total_mib']} MiB at end"
    )
    print(f"ERROR lines in the gateway's log: {report['gateway_log_errors']}")
    print("verdict: " + ("PASS" if report["passed"] else "FAIL"))


def run(args: argparse.Namespace) -> dict:
    require_loopback(args.database_url)
    require_loopback(args.redis_url)
    workdir = Path(tempfile.mkdtemp(prefix="oauthgw-soak-"))
    users = {f"user-{n}": f"pw-{n}-{secrets.token_hex(6)}" for n in range(USERS)}
    upstream = DevAuthorizationServerProcess(workdir, users)
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESS_LOG": "0",
        "OAUTHGW_UPSTREAM_TOKEN_URL": upstream.url,
        "OAUTHGW_UPSTREAM_CLIENT_ID": UPSTREAM_CLIENT[0],
        "OAUTHGW_UPSTREAM_CLIENT_SECRET": UPSTREAM_CLIENT[1],
        "OAUTHGW_UPSTREAM_TIMEOUT": str(UPSTREAM_TIMEOUT),
        "OAUTHGW_UPSTREAM_BREAKER_COOLDOWN": str(BREAKER_COOLDOWN),
        "OAUTHGW_TRUSTED_PROXY_COUNT": "1",
    }
    print(f"setting up in {workdir} ...", flush=True)
    fresh_database(args.database_url)
    fresh_redis(args.redis_url)
    manage(env, "migrate", "--noinput")
    app = json.loads(manage(env, "create_client", "soak", "--grant-types", "password,refresh_token", "--json"))
    gateway = Gateway(env, workdir)
    upstream.start()
    gateway.start()
    ledger = Ledger()
    try:
        requests.get(gateway.url + "/healthz", timeout=10)
        memory_start = gateway.memory()
        t0 = time.monotonic()
        until = t0 + args.duration
        threads = [SimulatedClient(n, gateway.url, app, users, ledger, until, t0) for n in range(args.clients)]
        threads.append(PasswordGuesser(gateway.url, app, ledger, until, t0))
        print(f"load for {args.duration} s against {gateway.url} ...", flush=True)
        for thread in threads:
            thread.start()
        time.sleep(0.1 * args.duration)
        memory_warm = gateway.memory()
        time.sleep(0.3 * args.duration)
        ledger.outage.append(time.monotonic() - t0)
        upstream.stop()
        print(f"upstream stopped at {ledger.outage[0]:.1f} s", flush=True)
        time.sleep(0.2 * args.duration)
        upstream.start()
        ledger.outage.append(time.monotonic() - t0)
        print(f"upstream started again at {ledger.outage[1]:.1f} s", flush=True)
        for thread in threads:
            thread.join(args.duration + 60)
        memory_end = gateway.memory()
        print("checking every token ...", flush=True)
        final = check_every_token(gateway.url, app, ledger)
    finally:
        gateway.stop()
        upstream.stop()
        upstream.users_file.unlink(missing_ok=True)  # plain-text passwords, even if made up
    traffic = summary(ledger, args.duration)
    guesses = traffic["by_kind"].get("guess", {}).get("statuses", {})
    report = {
        "duration_s": args.duration,
        "clients": args.clients,
        "gunicorn": "-k gthread --threads 8 -w 2",
        "outage": {
            "stopped_at_s": round(ledger.outage[0], 1),
            "started_at_s": round(ledger.outage[1], 1),
            "login_503s": ledger.outage_logins["503"],
        },
        "traffic": traffic,
        "unexpected_5xx": ledger.unexpected[:50],
        "lost_tokens": ledger.lost[:50],
        "late_revocations": ledger.late_revocations,
        "final_check": final,
        "memory": {"start": memory_start, "after_warm_up": memory_warm, "end": memory_end},
        "gateway_log_errors": _log_errors(gateway.log),
        "workdir": str(workdir),
    }
    report["passed"] = (
        not ledger.unexpected
        and not report["gateway_log_errors"]
        and not ledger.lost
        and not ledger.late_revocations
        and not any("STILL" in name or "LOST" in name for name in final)
        and int(guesses.get("429", 0)) > 0
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=180, help="seconds of load (default 180)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent simulated clients (default 8)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oauthgw_soak"),
        help="PostgreSQL database to drop and create (its name must contain 'soak')",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/11"),
        help="Redis database to flush (not 0)",
    )
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    report = run(args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    print_table(report)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
