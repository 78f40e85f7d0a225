"""What the benchmark scripts share: ports, waiting for a server, Basic credentials, the fast upstream, timing."""

import shutil
import socket
import statistics
import subprocess
import time
import urllib.request
from base64 import b64encode
from pathlib import Path
from urllib.parse import quote_plus


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def basic(client: dict) -> str:
    """The Authorization header of a client (RFC 6749 section 2.3.1: form-encoded, then Basic)."""
    pair = f"{quote_plus(client['client_id'])}:{quote_plus(client['client_secret'])}"
    return "Basic " + b64encode(pair.encode()).decode()


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def start_nginx(workdir: Path, body: str) -> tuple[subprocess.Popen, int]:
    """nginx on a free loopback port answering every ``POST /token`` with ``body``: the fast upstream."""
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
            return 200 '{body}';
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


def per_request_us(call, requests: int, rounds: int) -> dict:
    """The median over ``rounds`` of this process's CPU time and the wall time per ``call()``, in µs."""
    cpu, wall = [], []
    for _ in range(rounds):
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        for _ in range(requests):
            call()
        cpu.append((time.process_time() - cpu_started) / requests * 1e6)
        wall.append((time.perf_counter() - wall_started) / requests * 1e6)
    return {"cpu_us": round(statistics.median(cpu)), "wall_us": round(statistics.median(wall))}
