"""Start and stop the real servers that end-to-end tests talk to."""

import os
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


def gateway_settings_for_dev_upstream(token_url: str) -> dict:
    """``OAUTHGW`` pointing the gateway at a development authorization server."""
    return {
        "UPSTREAM_TOKEN_URL": token_url,
        "UPSTREAM_CLIENT_ID": DEV_AUTH_CLIENT[0],
        "UPSTREAM_CLIENT_SECRET": DEV_AUTH_CLIENT[1],
        "UPSTREAM_TIMEOUT": 2.0,
    }
