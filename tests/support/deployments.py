"""Real deployments of the gateway for end-to-end tests: server processes on a fresh database.

Two kinds, as operators run them:

- **embedded**: SQLite in a file and no Redis, what ``make run`` serves;
- **scale-out**: a fresh PostgreSQL database and a Redis database of its own.

``deployment_for_this_run()`` picks the one the suite runs in (scale-out when
``DATABASE_URL`` points at PostgreSQL, as in CI's second run), so an end-to-end
module asserts the same behaviour in both.
"""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.processes import DEV_AUTH_CLIENT, ROOT, free_port, wait_for_port

POSTGRES = os.environ.get("SCALE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
# A Redis database of the deployments' own: the unit tests empty theirs between tests.
REDIS = os.environ.get("SCALE_TEST_REDIS", "redis://127.0.0.1:6379/13")


class Deployment:
    """The environment every process of one deployment shares, and its management commands.

    ``root`` is the code it runs (this checkout, or an older release's) with ``python``.
    """

    def __init__(self, env: dict, kind: str, *, root: Path = ROOT, python: str = sys.executable):
        self.env = env
        self.kind = kind
        self.root = root
        self.python = python

    def with_code(self, root: Path, python: str) -> "Deployment":
        """The same database and settings, run by other code (an upgrade, a rollback)."""
        return Deployment(self.env, self.kind, root=root, python=python)

    def run_manage(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.python, "manage.py", *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def manage(self, *args: str) -> str:
        result = self.run_manage(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def shell(self, code: str) -> str:
        # --no-imports: Django 5.2's shell otherwise prints what it imported.
        return self.manage("shell", "--no-imports", "-c", code)

    def create_client(
        self,
        name: str | None = None,
        *,
        grant_types: str = "password,refresh_token,client_credentials",
        can_introspect: bool = False,
        token_format: str = "opaque",  # noqa: S107 (a token format, not a password)
    ) -> dict:
        args = ["create_client", name or f"e2e-{uuid.uuid4().hex[:8]}", "--grant-types", grant_types, "--json"]
        args += ["--token-format", token_format]
        if can_introspect:
            args.append("--can-introspect")
        return json.loads(self.manage(*args))


class Gateway:
    """One gateway instance with ``workers`` processes, started from this checkout.

    Served as in production (``python -m gatewayproj.server``, the gateway's own server), or by
    gunicorn with ``gunicorn.conf.py`` when ``server="gunicorn"``.
    """

    def __init__(
        self,
        deployment: Deployment,
        log_path: Path,
        *,
        workers: int = 2,
        threads: int = 4,
        extra_env: dict | None = None,
        server: str = "gateway",
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        bind = f"127.0.0.1:{self.port}"
        if server == "gunicorn":
            command = [deployment.python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "gatewayproj.wsgi"]
            server_env = {"GUNICORN_BIND": bind, "GUNICORN_THREADS": str(threads)}
        else:
            command = [deployment.python, "-m", "gatewayproj.server"]
            server_env = {"GATEWAY_BIND": bind, "GATEWAY_THREADS": str(threads)}
        # Outside debug mode the gateway serves only with its issuer configured (oauthgw.E035).
        issuer = {"OAUTHGW_ISSUER": self.url}
        self.process = subprocess.Popen(
            command,
            cwd=deployment.root,
            env={**issuer, **deployment.env, **(extra_env or {}), **server_env, "WEB_CONCURRENCY": str(workers)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, timeout=30)

    # Every call opens a new connection, so calls are spread over the worker processes.

    def token(self, client: dict, **form) -> requests.Response:
        return requests.post(
            f"{self.url}/oauth2/token", data=form, auth=(client["client_id"], client["client_secret"]), timeout=30
        )

    def hello(self, access_token: str) -> requests.Response:
        return requests.get(f"{self.url}/helloworld/", headers={"Authorization": f"Bearer {access_token}"}, timeout=30)

    def post(self, path: str, client: dict, **form) -> requests.Response:
        return requests.post(
            f"{self.url}{path}", data=form, auth=(client["client_id"], client["client_secret"]), timeout=30
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _base_env(upstream_url: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTHGW_"))}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "gatewayproj.settings",
            "DJANGO_DEBUG": "0",
            "OAUTHGW_UPSTREAM_TOKEN_URL": upstream_url,
            "OAUTHGW_UPSTREAM_CLIENT_ID": DEV_AUTH_CLIENT[0],
            "OAUTHGW_UPSTREAM_CLIENT_SECRET": DEV_AUTH_CLIENT[1],
            "OAUTHGW_UPSTREAM_TIMEOUT": "2",
            "GATEWAY_ACCESS_LOG": "0",
            "GUNICORN_ACCESS_LOG": "0",
        }
    )
    return env


def _postgres_admin():
    import psycopg

    return psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=3)


def scratch_database_name(purpose: str = "e2e") -> str:
    """A new PostgreSQL database name, prefixed with the configured test database's name.

    Runs against different test databases (CI's, a developer's) never meet in each
    other's scratch databases.
    """
    configured = os.environ.get("DATABASE_URL", "")
    prefix = configured.rsplit("/", 1)[-1].split("?", 1)[0] if configured.startswith("postgres") else "oauthgw"
    return f"{prefix}_{purpose}_{uuid.uuid4().hex[:8]}"


@contextmanager
def postgres_database(purpose: str = "e2e") -> Iterator[str]:
    """A new, empty PostgreSQL database; yields its URL and drops it afterwards."""
    database = scratch_database_name(purpose)
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield f"{POSTGRES}/{database}"
    finally:
        with _postgres_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextmanager
def scale_out_deployment(upstream_url: str, *, migrate: bool = True, **settings: str) -> Iterator[Deployment]:
    """A fresh PostgreSQL database and an emptied Redis database, migrated unless ``migrate=False``."""
    import redis

    redis.Redis.from_url(REDIS, socket_connect_timeout=3).flushdb()
    with postgres_database() as database_url:
        env = _base_env(upstream_url)
        env.update({"DATABASE_URL": database_url, "REDIS_URL": REDIS, **settings})
        deployment = Deployment(env, "scale-out")
        if migrate:
            deployment.manage("migrate", "-v0")
        yield deployment


@contextmanager
def embedded_deployment(
    upstream_url: str, directory: Path, *, migrate: bool = True, **settings: str
) -> Iterator[Deployment]:
    """SQLite in a file of ``directory`` and no Redis: the embedded default, migrated unless ``migrate=False``."""
    env = _base_env(upstream_url)
    env.pop("REDIS_URL", None)
    env.update({"DATABASE_URL": f"sqlite:///{directory / 'gateway.sqlite3'}", **settings})
    deployment = Deployment(env, "embedded")
    if migrate:
        deployment.manage("migrate", "-v0")
    yield deployment


def runs_scale_out() -> bool:
    """Whether this test run is the scale-out one (CI's PostgreSQL + Redis run)."""
    return os.environ.get("DATABASE_URL", "").startswith("postgres")


@contextmanager
def deployment_for_this_run(
    upstream_url: str, directory: Path, *, migrate: bool = True, **settings: str
) -> Iterator[Deployment]:
    if runs_scale_out():
        with scale_out_deployment(upstream_url, migrate=migrate, **settings) as deployment:
            yield deployment
    else:
        with embedded_deployment(upstream_url, directory, migrate=migrate, **settings) as deployment:
            yield deployment
