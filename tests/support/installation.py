"""The files of deploy/ as an operator installs them, with their paths moved into a test's directory.

Nothing here copies a setting out of those files: the units' commands and environment,
and the example environment file, are read from deploy/ and run as systemd would run
them (systemd itself is not PID 1 on this kind of machine). Only the install paths
(/srv/oauthgw, /etc/oauthgw/oauthgw.env, /var/backups/oauthgw) are moved: the code is
this checkout, the rest lives in the test's directory.
"""

import os
import re
import secrets
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from cryptography.fernet import Fernet

from tests.support.deployments import REDIS, postgres_database, runs_scale_out
from tests.support.processes import ROOT, free_port, wait_for_port

DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
ENV_EXAMPLE = DEPLOY / "oauthgw.env.example"
MANAGE = DEPLOY / "oauthgw-manage"

INSTALL_HOME = "/srv/oauthgw"
INSTALL_ENV_FILE = "/etc/oauthgw/oauthgw.env"
INSTALL_BACKUPS = "/var/backups/oauthgw"
# What systemd (Debian 12) puts in a service's environment before its own settings.
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# The public name of the gateway in deploy/oauthgw.env.example and the nginx site.
PUBLIC_HOST = "gateway.example.com"


def unit_sections(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's ``{section: {key: [values...]}}`` (systemd.syntax(7): comments, continuations)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def environment_file(text: str) -> dict[str, str]:
    """``NAME=value`` lines as systemd's EnvironmentFile= reads them: comments skipped, quotes removed."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        name, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def environment_file_with(text: str, values: dict[str, str]) -> str:
    """The example file with ``values`` set: on their own lines (commented out or not), else appended."""
    remaining = dict(values)

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in remaining:
            return match.group(0)
        return f"{name}={remaining.pop(name)}"

    filled = re.sub(r"^#?([A-Z][A-Z0-9_]*)=.*$", fill, text, flags=re.M)
    return filled + "".join(f"{name}={value}\n" for name, value in remaining.items())


class Installation:
    """deploy/ installed into ``directory``: rendered units, an environment file, a backup folder."""

    def __init__(self, directory: Path, environment: dict[str, str]):
        self.directory = directory
        self.env_file = directory / "oauthgw.env"
        self.backups = directory / "backups"
        self.backups.mkdir(mode=0o700, exist_ok=True)
        self.env_file.write_text(environment_file_with(ENV_EXAMPLE.read_text(encoding="utf-8"), environment))
        self.settings = environment_file(self.env_file.read_text(encoding="utf-8"))
        self.units = directory / "units"
        self.units.mkdir(exist_ok=True)
        for unit in SYSTEMD.iterdir():
            (self.units / unit.name).write_text(self.render(unit.read_text(encoding="utf-8")))

    def render(self, text: str) -> str:
        return (
            text.replace(INSTALL_ENV_FILE, str(self.env_file))
            .replace(INSTALL_BACKUPS, str(self.backups))
            .replace(INSTALL_HOME, str(ROOT))
        )

    @property
    def port(self) -> int:
        return int(self.settings["GATEWAY_BIND"].rpartition(":")[2])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def service(self, unit: str) -> dict[str, list[str]]:
        return unit_sections((self.units / unit).read_text(encoding="utf-8"))["Service"]

    def service_environment(self, unit: str) -> dict[str, str]:
        """The environment systemd gives the unit's processes: its own, then Environment=, then the files."""
        service = self.service(unit)
        env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8", "HOME": str(self.directory), "USER": "root"}
        for assignment in service.get("Environment", []):
            for item in shlex.split(assignment):
                name, _, value = item.partition("=")
                env[name] = value
        for path in service.get("EnvironmentFile", []):
            env.update(environment_file(Path(path.lstrip("-")).read_text(encoding="utf-8")))
        return env

    def commands(self, unit: str, key: str, **variables: str) -> list[list[str]]:
        """The unit's ``key=`` command lines, split as systemd splits them, ``$NAME`` replaced."""
        lines = []
        for line in self.service(unit).get(key, []):
            words = shlex.split(line.lstrip("-@:+!"))
            lines.append([re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], word) for word in words])
        return lines

    def run(self, unit: str, key: str, **variables: str) -> list[subprocess.CompletedProcess]:
        """Run the unit's ``key=`` lines one after the other, as systemd does, until one fails."""
        results = []
        for command in self.commands(unit, key, **variables):
            result = subprocess.run(
                command,
                cwd=self.service(unit)["WorkingDirectory"][0],
                env=self.service_environment(unit),
                capture_output=True,
                text=True,
                timeout=120,
            )
            results.append(result)
            if result.returncode != 0:
                break
        return results

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """deploy/oauthgw-manage pointed at this installation, run by this test's user."""
        env = {
            "PATH": SYSTEMD_PATH,
            "SERVICE_HOME": str(ROOT),
            "SERVICE_ENV_FILE": str(self.env_file),
            "SERVICE_USER": subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip(),
        }
        return subprocess.run([str(MANAGE), *args], env=env, capture_output=True, text=True, timeout=120)

    @contextmanager
    def service_running(self, log: Path) -> Iterator["RunningService"]:
        """oauthgw.service started as systemd starts it: ExecStartPre lines, then ExecStart."""
        for result in self.run("oauthgw.service", "ExecStartPre"):
            assert result.returncode == 0, result.stderr
        [command] = self.commands("oauthgw.service", "ExecStart")
        with log.open("w") as output:
            process = subprocess.Popen(
                command,
                cwd=self.service("oauthgw.service")["WorkingDirectory"][0],
                env=self.service_environment("oauthgw.service"),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = RunningService(self, process)
        try:
            wait_for_port(self.port, timeout=30)
            yield service
        finally:
            service.kill()


class RunningService:
    def __init__(self, installation: Installation, process: subprocess.Popen):
        self.installation = installation
        self.process = process

    def workers(self) -> set[int]:
        # Children of every thread of the main process, whichever thread forked them.
        tasks = Path(f"/proc/{self.process.pid}/task")
        return {int(pid) for task in tasks.glob("*/children") for pid in task.read_text().split()}

    def reload(self) -> None:
        """The unit's ExecReload, with ``$MAINPID``."""
        for result in self.installation.run("oauthgw.service", "ExecReload", MAINPID=str(self.process.pid)):
            assert result.returncode == 0, result.stderr

    def stop(self, timeout: float) -> int:
        """KillMode=mixed: SIGTERM to the main process only; returns its exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def proxied(installation: Installation, method: str, path: str, *, client_address: str = "198.51.100.7", **kwargs):
    """A request to the gateway as the nginx site sends it: public host, https, the client's address."""
    headers = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": client_address}
    headers.update(kwargs.pop("headers", {}))
    return requests.request(
        method, f"{installation.url}{path}", headers=headers, timeout=30, allow_redirects=False, **kwargs
    )


@contextmanager
def production_environment(directory: Path) -> Iterator[dict[str, str]]:
    """What an operator puts into the example environment file: keys, names, a database of its own.

    The authorization server's URL stays the example's (https://auth.example.com): these
    tests log nobody in, and a plain-HTTP URL would fail ``check --deploy``, as it should.
    """
    values = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "OAUTHGW_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "OAUTHGW_UPSTREAM_CLIENT_ID": "gateway",
        "OAUTHGW_UPSTREAM_CLIENT_SECRET": secrets.token_urlsafe(24),
        "GATEWAY_BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "2",
        "GATEWAY_ACCESS_LOG": "0",
    }
    if runs_scale_out():
        with postgres_database("deploy") as database_url:
            yield {**values, "DATABASE_URL": database_url, "REDIS_URL": REDIS}
    else:
        yield {**values, "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}"}


def wait_until(condition, timeout: float = 30.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)
