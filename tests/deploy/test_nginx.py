"""deploy/nginx/oauthgw.conf: Debian's nginx with the site, in front of the gateway its unit starts.

The site is rendered as an operator installs it, with what this machine needs changed:
free ports on loopback instead of 80 and 443, a self-signed certificate instead of the
placeholder paths, logs in the test's directory, and smaller numbers for the timeouts
and limits under test (read back from the rendered site, never assumed). Linux routes
all of 127.0.0.0/8 to loopback, so 127.0.0.2, 127.0.0.3, ... are distinct client
addresses; 127.0.0.1 stands for the staff's network (the site's allow-list).
"""

import ipaddress
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter

from tests.support.installation import DEPLOY, PUBLIC_HOST, Installation, production_environment, wait_until
from tests.support.processes import free_port, wait_for_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("nginx", path="/usr/sbin:/usr/bin") is None, reason="nginx is not installed"),
]

SITE = DEPLOY / "nginx" / "oauthgw.conf"
DEBIAN_NGINX_CONF = Path("/etc/nginx/nginx.conf")
# Smaller than the site's, so that the tests take seconds.
TEST_VALUES = {
    r"client_header_timeout \d+s": "client_header_timeout 2s",
    r"limit_conn oauthgw_connections \d+": "limit_conn oauthgw_connections 4",
    r"rate=\d+r/s": "rate=1r/m",
    r"burst=\d+": "burst=3",
}
STAFF, STAFF_PASSWORD = "operator", "a-long-staff-password-for-the-admin"


def substitute(text: str, pattern: str, replacement: str) -> str:
    rendered, count = re.subn(pattern, replacement, text)
    assert count, f"the site no longer has {pattern!r}: update this test's rendering"
    return rendered


def self_signed_certificate(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PUBLIC_HOST)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(PUBLIC_HOST), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir()
    (directory / "fullchain.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


class Nginx:
    """Debian's nginx (its own nginx.conf around the site) on free loopback ports."""

    def __init__(self, directory: Path, gateway_port: int):
        directory.mkdir()
        self.directory = directory
        self.https_port, self.http_port = free_port(), free_port()
        self_signed_certificate(directory / "certificate")
        self.certificate = directory / "certificate" / "fullchain.pem"
        (directory / "logs").mkdir()
        site = SITE.read_text(encoding="utf-8")
        for pattern, replacement in {
            r"listen 443 ": f"listen 127.0.0.1:{self.https_port} ",
            r"listen \[::\]:443 ": f"listen [::1]:{self.https_port} ",
            r"listen 80;": f"listen 127.0.0.1:{self.http_port};",
            r"listen \[::\]:80;": f"listen [::1]:{self.http_port};",
            r"server 127\.0\.0\.1:8000;": f"server 127.0.0.1:{gateway_port};",
            r"/etc/letsencrypt/live/gateway\.example\.com/": f"{directory}/certificate/",
            r"/var/log/nginx/": f"{directory}/logs/",
            **TEST_VALUES,
        }.items():
            site = substitute(site, pattern, replacement)
        self.site = site
        (directory / "oauthgw.conf").write_text(site)
        main = DEBIAN_NGINX_CONF.read_text(encoding="utf-8")
        for pattern, replacement in {
            r"(?m)^pid .*;": f"pid {directory}/nginx.pid;",
            r"(?m)^error_log .*;": f"error_log {directory}/logs/error.log;",
            r"access_log /var/log/nginx/access\.log;": f"access_log {directory}/logs/access.log;",
            r"include /etc/nginx/sites-enabled/\*;": f"include {directory}/oauthgw.conf;",
        }.items():
            main = substitute(main, pattern, replacement)
        (directory / "nginx.conf").write_text(main)
        self.process = subprocess.Popen(
            [
                "nginx",
                "-c",
                str(directory / "nginx.conf"),
                "-e",
                str(directory / "logs/error.log"),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.https_port, timeout=10)
        except RuntimeError:
            self.process.kill()
            raise AssertionError(self.process.communicate()[1].decode()) from None

    def value(self, pattern: str) -> int:
        return int(re.search(pattern, self.site).group(1))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class FromAddress(HTTPAdapter):
    """Requests whose connections come from ``address`` (any of 127.0.0.0/8)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_from(address: str, nginx: "Nginx") -> requests.Session:
    session = requests.Session()
    session.mount("https://", FromAddress(address))
    session.mount("http://", FromAddress(address))
    session.trust_env = False  # no CA bundle from the environment: the site's own certificate
    session.verify = str(nginx.certificate)
    session.headers["Host"] = PUBLIC_HOST
    return session


def tls_connection(nginx: Nginx, address: str) -> ssl.SSLSocket:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", nginx.https_port), timeout=10, source_address=(address, 0))
    return context.wrap_socket(raw, server_hostname=PUBLIC_HOST)


def seconds_until_closed(connection: socket.socket, trickle: bytes = b"", limit: float = 30.0) -> float:
    """How long the server keeps ``connection`` open while the client sends ``trickle`` a byte at a time."""
    started = time.monotonic()
    connection.settimeout(0.25)
    remaining = list(trickle)
    while time.monotonic() - started < limit:
        try:
            if connection.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            pass
        except (ConnectionError, ssl.SSLError):
            return time.monotonic() - started
        if remaining:
            try:
                connection.sendall(bytes([remaining.pop(0)]))
            except (OSError, ssl.SSLError):
                return time.monotonic() - started
    return limit


@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    directory = tmp_path_factory.mktemp("installed")
    with production_environment(directory) as values:
        installation = Installation(directory, values)
        for command in (
            ["migrate", "--noinput"],
            [
                "shell",
                "-c",
                "from django.contrib.auth.models import User; "
                f"User.objects.create_superuser({STAFF!r}, 'ops@example.com', {STAFF_PASSWORD!r})",
            ],
        ):
            result = installation.manage(*command)
            assert result.returncode == 0, result.stderr
        yield installation


@pytest.fixture(scope="module")
def client(installation):
    made = installation.manage("create_client", "behind-nginx", "--grant-types", "client_credentials", "--json")
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)


@pytest.fixture(scope="module")
def gateway(installation, tmp_path_factory):
    with installation.service_running(tmp_path_factory.mktemp("service") / "service.log") as service:
        yield service


@pytest.fixture(scope="module")
def nginx(installation, gateway, tmp_path_factory):
    server = Nginx(tmp_path_factory.mktemp("nginx") / "nginx", installation.port)
    yield server
    server.stop()


def token(nginx: Nginx, client: dict, address: str = "127.0.0.2", **headers) -> requests.Response:
    return client_from(address, nginx).post(
        f"https://127.0.0.1:{nginx.https_port}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        headers=headers,
        timeout=30,
    )


def test_a_token_and_a_hello_world_call_work_through_the_site_over_tls(nginx, client):
    issued = token(nginx, client)
    hello = client_from("127.0.0.2", nginx).get(
        f"https://127.0.0.1:{nginx.https_port}/helloworld/",
        headers={"Authorization": f"Bearer {issued.json()['access_token']}"},
        timeout=30,
    )
    plain = client_from("127.0.0.2", nginx).get(
        f"http://127.0.0.1:{nginx.http_port}/helloworld/", allow_redirects=False
    )

    assert issued.status_code == 200, issued.text  # not the gateway's redirect to https: it knows it is https
    assert hello.status_code == 200, hello.text
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://{PUBLIC_HOST}/helloworld/"


def test_the_gateway_is_told_its_public_name_whatever_host_the_client_sent(nginx, client):
    # Host: 127.0.0.1 is one the gateway answers to directly (health checks on the machine):
    # through the site it must still be the public name, and so must a name the gateway does not know.
    answers = [token(nginx, client, Host=host) for host in ("127.0.0.1", "attacker.example")]
    redirect = client_from("127.0.0.2", nginx).get(
        f"http://127.0.0.1:{nginx.http_port}/x", headers={"Host": "attacker.example"}, allow_redirects=False
    )

    assert [answer.status_code for answer in answers] == [200, 200]
    assert redirect.headers["Location"] == f"https://{PUBLIC_HOST}/x"


def test_the_gateway_sees_the_end_users_address_not_one_the_client_claims(nginx, client, installation):
    issued = token(nginx, client, "127.0.0.3", **{"X-Forwarded-For": "203.0.113.9"})
    assert issued.status_code == 200, issued.text

    shown = installation.manage(
        "shell",
        "-c",
        "from oauthgw.models import AuditEvent; "
        f"print(AuditEvent.objects.filter(client_id={client['client_id']!r}).latest('pk').client_ip)",
    )
    assert shown.stdout.strip().splitlines()[-1] == "127.0.0.3"


def test_the_admin_and_the_metrics_are_refused_outside_the_staffs_networks_and_the_admin_works_inside(nginx):
    base = f"https://127.0.0.1:{nginx.https_port}"
    outside = client_from("127.0.0.2", nginx)
    assert outside.get(f"{base}/admin/login/", timeout=30).status_code == 403
    assert outside.get(f"{base}/metrics", timeout=30).status_code == 403

    staff = client_from("127.0.0.1", nginx)
    assert staff.get(f"{base}/metrics", timeout=30).status_code == 200
    page = staff.get(f"{base}/admin/login/", timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    # What a browser sends on the public name (port 443): Django checks it against Host.
    logged_in = staff.post(
        f"{base}/admin/login/",
        data={"csrfmiddlewaretoken": csrf, "username": STAFF, "password": STAFF_PASSWORD, "next": "/admin/"},
        headers={"Referer": f"https://{PUBLIC_HOST}/admin/login/", "Origin": f"https://{PUBLIC_HOST}"},
        allow_redirects=False,
        timeout=30,
    )
    assert logged_in.status_code == 302, logged_in.text[:500]
    assert logged_in.headers["Location"] == "/admin/"
    assert all(cookie.secure for cookie in staff.cookies)
    assert staff.get(f"{base}/admin/", timeout=30).status_code == 200


def test_one_address_is_limited_in_requests_at_once_while_another_is_served(nginx):
    limit = nginx.value(r"limit_conn oauthgw_connections (\d+)")
    holding = []
    try:
        for _ in range(limit):
            connection = tls_connection(nginx, "127.0.0.4")
            # Headers in, body announced and never sent: a request in progress.
            connection.sendall(
                f"POST /helloworld/ HTTP/1.1\r\nHost: {PUBLIC_HOST}\r\nContent-Length: 100\r\n\r\n".encode()
            )
            holding.append(connection)
        time.sleep(0.3)
        over = client_from("127.0.0.4", nginx).get(f"https://127.0.0.1:{nginx.https_port}/healthz", timeout=30)
        other = client_from("127.0.0.5", nginx).get(f"https://127.0.0.1:{nginx.https_port}/healthz", timeout=30)
    finally:
        for connection in holding:
            connection.close()
    later = client_from("127.0.0.4", nginx).get(f"https://127.0.0.1:{nginx.https_port}/healthz", timeout=30)

    assert over.status_code == 429
    assert over.json()["error"] == "slow_down"
    assert other.status_code == 200
    assert later.status_code == 200


def test_token_requests_past_the_burst_are_refused_for_that_address_only(nginx, client):
    burst = nginx.value(r"burst=(\d+)")

    answers = [token(nginx, client, "127.0.0.6").status_code for _ in range(burst + 3)]
    elsewhere = token(nginx, client, "127.0.0.7")
    refused = token(nginx, client, "127.0.0.6")

    assert answers == [200] * (burst + 1) + [429] * 2
    assert elsewhere.status_code == 200
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"] == "slow_down"


def test_a_silent_connection_and_one_that_trickles_its_headers_are_closed_after_the_header_timeout(nginx):
    timeout = nginx.value(r"client_header_timeout (\d+)s")
    silent = tls_connection(nginx, "127.0.0.8")
    trickling = tls_connection(nginx, "127.0.0.9")
    results = {}

    def watch(name, connection, trickle=b""):
        results[name] = seconds_until_closed(connection, trickle)

    threads = [
        threading.Thread(target=watch, args=("silent", silent)),
        threading.Thread(
            target=watch, args=("trickling", trickling, b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 200)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    silent.close()
    trickling.close()

    assert timeout - 1 < results["silent"] < timeout + 2
    assert timeout - 1 < results["trickling"] < timeout + 2


def test_the_sites_log_has_the_path_without_its_query_and_the_request_id_the_gateway_logs(nginx):
    answer = client_from("127.0.0.10", nginx).get(
        f"https://127.0.0.1:{nginx.https_port}/healthz?access_token=a-token-in-a-url", timeout=30
    )
    request_id = answer.headers["X-Request-ID"]
    log = nginx.directory / "logs" / "oauthgw.access.log"
    wait_until(lambda: request_id in log.read_text())

    [line] = [line for line in log.read_text().splitlines() if request_id in line]
    assert '"GET /healthz HTTP/1.1" 200' in line
    assert "a-token-in-a-url" not in log.read_text()


def test_while_the_gateway_does_not_answer_clients_get_the_gateways_503_not_an_html_page(tmp_path, client):
    nowhere = Nginx(tmp_path / "nginx", free_port())
    try:
        answer = token(nowhere, client)
    finally:
        nowhere.stop()

    assert answer.status_code == 503
    assert answer.headers["Content-Type"] == "application/json"
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.json()["error"] == "temporarily_unavailable"
