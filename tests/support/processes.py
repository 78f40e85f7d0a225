"""Start and stop the real servers that end-to-end tests talk to."""

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_AUTH_SERVER = ROOT / "scripts" / "dev_authorization_server.py"
DEV_AUTH_CLIENT = ("oauthgw", "oauthgw-dev-secret")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def dev_authorization_server(users_file: Path, port: int | None = None):
    """The project's development authorization server as a real process; yields its token URL."""
    port = port or free_port()
    env = {**os.environ, "DEV_AUTH_USERS": ""}
    process = subprocess.Popen(
        [sys.executable, str(DEV_AUTH_SERVER), "--port", str(port), "--users-file", str(users_file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/token"
    finally:
        process.terminate()
        process.wait(timeout=10)


class DevAuthorizationServerProcess:
    """The development authorization server as a process that can be stopped, killed, frozen and restarted.

    It keeps its port across restarts, so the gateway keeps calling the same URL.
    ``users`` maps usernames to passwords.
    """

    def __init__(self, workdir: Path, users: dict[str, str]):
        self.port = free_port()
        self.users_file = workdir / "users.txt"
        self.users_file.write_text("".join(f"{name}:{pw}\n" for name, pw in users.items()), encoding="utf-8")
        self.log = workdir / "upstream.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def start(self) -> None:
        with open(self.log, "a", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(DEV_AUTH_SERVER), "--port", str(self.port), "--users-file", str(self.users_file)],
                env={**os.environ, "DEV_AUTH_USERS": ""},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for_port(self.port)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(5)

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def requests_served(self) -> int:
        return self.log.read_text(encoding="utf-8").count("POST /token")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(10)


def gateway_settings_for_dev_upstream(token_url: str) -> dict:
    """``OAUTHGW`` pointing the gateway at a development authorization server."""
    return {
        "UPSTREAM_TOKEN_URL": token_url,
        "UPSTREAM_CLIENT_ID": DEV_AUTH_CLIENT[0],
        "UPSTREAM_CLIENT_SECRET": DEV_AUTH_CLIENT[1],
        "UPSTREAM_TIMEOUT": 2.0,
    }
