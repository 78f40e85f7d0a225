"""Black-box tests of scripts/dev_authorization_server.py, run as a real process."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dev_authorization_server.py"
START_TIMEOUT = 10.0
HTTP_TIMEOUT = 5.0

CLIENT_ID = "gateway client+1"
# Characters that form-encoding inside HTTP Basic (RFC 6749 2.3.1) must survive.
CLIENT_SECRET = "s3cr:et&=+% é"
PLAIN_USER, PLAIN_PASSWORD = "alice", "wonderland"
TRICKY_USER = "ü&s=e+r% ñame"
TRICKY_PASSWORD = "p&a=s+s% wörd:ß,"


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str
    stderr_path: Path

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEV_AUTH_")}
    env.update(overrides)
    return env


def wait_until_healthy(process: subprocess.Popen[str], base_url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        try:
            if requests.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("server did not become healthy in time")


def stop(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


class ServerFactory:
    """Starts servers as subprocesses and stops whatever it started."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[subprocess.Popen[str]] = []

    def start(self, *args: str, env: Mapping[str, str] | None = None, port: int | None = None) -> Server:
        port = port or free_port()
        stderr_path = self.directory / f"stderr-{port}.log"
        argv = [sys.executable, str(SCRIPT), *args]
        if "--port" not in args and "DEV_AUTH_PORT" not in (env or {}):
            argv += ["--port", str(port)]
        with stderr_path.open("w") as stderr:
            process = subprocess.Popen(
                argv,
                env=dict(env) if env is not None else clean_env(),
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.started.append(process)
        base_url = f"http://127.0.0.1:{port}"
        wait_until_healthy(process, base_url)
        return Server(process, base_url, stderr_path)

    def start_configured(self) -> Server:
        """A server with the test users in a file and a hard-to-encode client."""
        users_file = self.directory / "users.txt"
        users_file.write_text(
            f"# comment line\n\n{PLAIN_USER}:{PLAIN_PASSWORD}\n{TRICKY_USER}:{TRICKY_PASSWORD}\n",
            encoding="utf-8",
        )
        env = clean_env(DEV_AUTH_CLIENT_ID=CLIENT_ID, DEV_AUTH_CLIENT_SECRET=CLIENT_SECRET)
        return self.start("--users-file", str(users_file), env=env)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                stop(process)
            if process.stdout:
                process.stdout.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    factory = ServerFactory(tmp_path)
    yield factory.start
    factory.stop_all()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by the tests that only send requests."""
    factory = ServerFactory(tmp_path_factory.mktemp("shared"))
    yield factory.start_configured()
    factory.stop_all()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of the test's own, for tests that read its output or stop it."""
    factory = ServerFactory(tmp_path)
    yield factory.start_configured()
    factory.stop_all()


def basic(client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> str:
    raw = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(raw.encode("utf-8")).decode("ascii")


def post_token(
    server: Server,
    data: Mapping[str, str] | bytes | None = None,
    *,
    authorization: str | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> requests.Response:
    headers = {"Content-Type": content_type}
    headers["Authorization"] = authorization or basic()
    if data is None:
        data = {
            "grant_type": "password",
            "username": PLAIN_USER,
            "password": PLAIN_PASSWORD,
        }
    return requests.post(server.token_url, data=data, headers=headers, timeout=HTTP_TIMEOUT)


def password_grant(username: str, password: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "password",
        "username": username,
        "password": password,
        **extra,
    }


# --- startup and process behaviour -------------------------------------------


def test_prints_listening_line_once_ready(own_server: Server) -> None:
    line = own_server.process.stdout.readline()

    assert line == f"dev authorization server listening on {own_server.token_url}\n"


def test_health_answers_ok(server: Server) -> None:
    response = requests.get(f"{server.base_url}/health", timeout=HTTP_TIMEOUT)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_sigterm_stops_the_server_cleanly(own_server: Server) -> None:
    assert stop(own_server.process) == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "localhost"])
def test_refuses_non_loopback_host(host: str) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--host", host, "--port", str(free_port())],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )

    assert result.returncode == 2
    assert "refusing to listen" in result.stderr
    assert "loopback" in result.stderr
    assert result.stdout == ""


def test_bad_users_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    users_file = tmp_path / "users.txt"
    users_file.write_text("ok:fine\nsecret-without-colon\n", encoding="utf-8")

    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--users-file", str(users_file)],
        env=clean_env(DEV_AUTH_PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )

    assert result.returncode == 2
    assert "line 2" in result.stderr
    assert "secret-without-colon" not in result.stderr


def test_listens_on_ipv6_loopback() -> None:
    port = free_port()
    argv = [sys.executable, str(SCRIPT), "--host", "::1", "--port", str(port)]
    process = subprocess.Popen(argv, env=clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        response = requests.get(f"http://[::1]:{port}/health", timeout=HTTP_TIMEOUT)
    finally:
        stop(process)
        process.stdout.close()

    assert line == f"dev authorization server listening on http://[::1]:{port}/token\n"
    assert response.status_code == 200


def test_port_defaults_to_dev_auth_port(start_server) -> None:
    port = free_port()

    server = start_server(env=clean_env(DEV_AUTH_PORT=str(port)), port=port)

    assert str(port) in server.process.stdout.readline()


# --- users and client configuration ------------------------------------------


def test_default_user_and_client(start_server) -> None:
    server = start_server()

    response = post_token(
        server,
        password_grant("abc123", "xyz456"),
        authorization=basic("oauthgw", "oauthgw-dev-secret"),
    )

    assert response.status_code == 200
    assert response.json()["username"] == "abc123"


def test_users_from_env_split_on_first_colon(start_server) -> None:
    env = clean_env(DEV_AUTH_USERS="bob:pa:ss,carol:c&=+% ö")
    server = start_server(env=env)
    auth = basic("oauthgw", "oauthgw-dev-secret")

    bob = post_token(server, password_grant("bob", "pa:ss"), authorization=auth)
    carol = post_token(server, password_grant("carol", "c&=+% ö"), authorization=auth)
    default = post_token(server, password_grant("abc123", "xyz456"), authorization=auth)

    assert (bob.status_code, carol.status_code, default.status_code) == (200, 200, 400)


# --- the token endpoint ------------------------------------------------------


def test_valid_password_grant_issues_bearer_token(server: Server) -> None:
    response = post_token(server, password_grant(PLAIN_USER, PLAIN_PASSWORD, scope="read write"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = response.json()
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for name in ("access_token", "refresh_token"):
        token = body.pop(name)
        assert len(token) == 43 and set(token) <= alphabet
    assert body == {
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "read write",
        "sub": PLAIN_USER,
        "username": PLAIN_USER,
    }


def test_each_token_is_new(server: Server) -> None:
    first = post_token(server).json()["access_token"]
    second = post_token(server).json()["access_token"]

    assert first != second


def test_scope_defaults_to_empty(server: Server) -> None:
    assert post_token(server).json()["scope"] == ""


def test_credentials_with_special_characters_round_trip(server: Server) -> None:
    response = post_token(server, password_grant(TRICKY_USER, TRICKY_PASSWORD))

    assert response.status_code == 200
    assert response.json()["sub"] == TRICKY_USER


def test_special_characters_are_not_loosely_matched(server: Server) -> None:
    # "+" must not be taken for a space, nor "%" decoded twice.
    near_miss = TRICKY_PASSWORD.replace("+", " ")

    response = post_token(server, password_grant(TRICKY_USER, near_miss))

    assert response.status_code == 400


def test_hand_encoded_body_is_decoded_byte_exact(server: Server) -> None:
    body = (
        "grant_type=password"
        f"&username={urllib.parse.quote(TRICKY_USER, safe='')}"
        f"&password={urllib.parse.quote_plus(TRICKY_PASSWORD)}"
    ).encode("ascii")

    response = post_token(server, body)

    assert response.status_code == 200


INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "Invalid resource owner credentials.",
}


def test_wrong_password_is_invalid_grant(server: Server) -> None:
    response = post_token(server, password_grant(PLAIN_USER, "not-it"))

    assert response.status_code == 400
    assert response.json() == INVALID_GRANT
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_user_is_invalid_grant(server: Server) -> None:
    response = post_token(server, password_grant("nobody", PLAIN_PASSWORD))

    assert response.status_code == 400
    assert response.json() == INVALID_GRANT


def test_missing_client_authentication_is_invalid_client(server: Server) -> None:
    response = requests.post(
        server.token_url,
        data=password_grant(PLAIN_USER, PLAIN_PASSWORD),
        timeout=HTTP_TIMEOUT,
    )

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    assert response.headers["WWW-Authenticate"] == 'Basic realm="dev-authorization-server"'


@pytest.mark.parametrize(
    "authorization",
    [
        basic(CLIENT_ID, "wrong"),
        basic("someone-else", CLIENT_SECRET),
        # Not form-encoded: the raw secret's "+" and "%" decode to something else.
        "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode(),
        "Basic !!not-base64!!",
        "Bearer abc",
    ],
)
def test_bad_client_authentication_is_invalid_client(server: Server, authorization: str) -> None:
    response = post_token(server, authorization=authorization)

    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    assert "WWW-Authenticate" in response.headers


def test_other_grant_type_is_unsupported(server: Server) -> None:
    response = post_token(server, {"grant_type": "client_credentials"})

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    "data",
    [
        {"grant_type": "password", "password": PLAIN_PASSWORD},
        {"grant_type": "password", "username": PLAIN_USER},
        {"username": PLAIN_USER, "password": PLAIN_PASSWORD},
        b"grant_type=password&grant_type=password&username=alice&password=wonderland",
    ],
    ids=["no-username", "no-password", "no-grant-type", "repeated-parameter"],
)
def test_incomplete_request_is_invalid_request(server: Server, data) -> None:
    response = post_token(server, data)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_non_utf8_body_is_invalid_request(server: Server) -> None:
    body = b"grant_type=password&username=alice&password=\xff\xfe"

    response = post_token(server, body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_wrong_content_type_is_invalid_request(server: Server) -> None:
    response = post_token(server, b"{}", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_body_over_64_kib_is_refused(server: Server) -> None:
    body = b"grant_type=password&username=alice&password=" + b"x" * (64 * 1024)

    response = post_token(server, body)

    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


def test_body_of_exactly_64_kib_is_accepted(server: Server) -> None:
    prefix = b"grant_type=password&username=alice&password=wonderland&scope="
    body = prefix + b"s" * (64 * 1024 - len(prefix))

    response = post_token(server, body)

    assert response.status_code == 200


# --- refresh tokens and disabling users while running ---------------------------


def refresh_grant(refresh_token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token}


def admin_call(server: Server, username: str, action: str, *, authorization: str | None = None) -> requests.Response:
    path = urllib.parse.quote(username, safe="")
    return requests.post(
        f"{server.base_url}/admin/users/{path}/{action}",
        headers={"Authorization": authorization or basic()},
        timeout=HTTP_TIMEOUT,
    )


def test_a_refresh_token_gives_a_new_pair_once(server: Server) -> None:
    first = post_token(server).json()

    second = post_token(server, refresh_grant(first["refresh_token"]))
    replayed = post_token(server, refresh_grant(first["refresh_token"]))

    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    assert second.json()["sub"] == PLAIN_USER
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"
    assert post_token(server, refresh_grant(second.json()["refresh_token"])).status_code == 200


def test_an_unknown_refresh_token_is_invalid_grant(server: Server) -> None:
    response = post_token(server, refresh_grant("never-issued"))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_refresh_needs_its_token(server: Server) -> None:
    assert post_token(server, {"grant_type": "refresh_token"}).json()["error"] == "invalid_request"


def test_a_disabled_user_can_neither_log_in_nor_refresh_until_enabled(own_server: Server) -> None:
    tokens = post_token(own_server, password_grant(TRICKY_USER, TRICKY_PASSWORD)).json()

    disabled = admin_call(own_server, TRICKY_USER, "disable")
    login = post_token(own_server, password_grant(TRICKY_USER, TRICKY_PASSWORD))
    refresh = post_token(own_server, refresh_grant(tokens["refresh_token"]))
    others = post_token(own_server)

    assert disabled.status_code == 200
    assert disabled.json() == {"username": TRICKY_USER, "enabled": False}
    assert (login.status_code, login.json()["error"]) == (400, "invalid_grant")
    assert (refresh.status_code, refresh.json()["error"]) == (400, "invalid_grant")
    assert others.status_code == 200
    assert admin_call(own_server, TRICKY_USER, "enable").json() == {"username": TRICKY_USER, "enabled": True}
    assert post_token(own_server, password_grant(TRICKY_USER, TRICKY_PASSWORD)).status_code == 200


def test_admin_calls_need_the_client_credentials(server: Server) -> None:
    response = admin_call(server, PLAIN_USER, "disable", authorization=basic(CLIENT_ID, "wrong"))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert post_token(server).status_code == 200


def test_admin_calls_for_an_unknown_user_or_action_are_404(server: Server) -> None:
    assert admin_call(server, "nobody", "disable").status_code == 404
    assert admin_call(server, PLAIN_USER, "delete").status_code == 404


def test_admin_calls_are_post_only(server: Server) -> None:
    response = requests.get(f"{server.base_url}/admin/users/{PLAIN_USER}/disable", timeout=HTTP_TIMEOUT)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


# --- other routes ------------------------------------------------------------


def test_unknown_path_is_json_404(server: Server) -> None:
    response = requests.get(f"{server.base_url}/nope", timeout=HTTP_TIMEOUT)

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/token", "POST"),
        ("PUT", "/token", "POST"),
        ("POST", "/health", "GET, HEAD"),
    ],
)
def test_wrong_method_is_json_405(server: Server, method: str, path: str, allow: str) -> None:
    response = requests.request(method, f"{server.base_url}{path}", timeout=HTTP_TIMEOUT)

    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.json() == {"error": "method_not_allowed"}


# --- secrets stay out of the output ------------------------------------------


def test_log_has_method_path_status_and_no_secrets(own_server: Server) -> None:
    tokens = post_token(own_server, password_grant(TRICKY_USER, TRICKY_PASSWORD)).json()
    token, refresh_token = tokens["access_token"], tokens["refresh_token"]
    rotated = post_token(own_server, refresh_grant(refresh_token)).json()["refresh_token"]
    post_token(own_server, password_grant(PLAIN_USER, "wrong-guess"))
    requests.get(f"{own_server.base_url}/token?password={PLAIN_PASSWORD}", timeout=HTTP_TIMEOUT)
    stop(own_server.process)
    log = own_server.stderr_path.read_text(encoding="utf-8")
    stdout = own_server.process.stdout.read()

    assert "POST /token 200" in log
    assert "POST /token 400" in log
    assert "GET /token 405" in log
    for secret in (
        token,
        refresh_token,
        rotated,
        TRICKY_PASSWORD,
        PLAIN_PASSWORD,
        "wrong-guess",
        CLIENT_SECRET,
    ):
        assert secret not in log
        assert secret not in stdout


def test_the_callback_page_shows_what_an_authorization_response_brought(server: Server) -> None:
    # make run's code-flow demo client is sent back here (README, "Sign in with a browser").
    response = requests.get(
        f"{server.base_url}/callback",
        params={"code": "a-code<b>", "state": "demo", "iss": "http://127.0.0.1:8000"},
        timeout=HTTP_TIMEOUT,
    )

    assert response.status_code == 200
    assert "<code id='code'>a-code&lt;b&gt;</code>" in response.text
    assert "<code id='state'>demo</code>" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"


def test_the_callback_page_shows_a_refusal(server: Server) -> None:
    response = requests.get(f"{server.base_url}/callback", params={"error": "access_denied"}, timeout=HTTP_TIMEOUT)

    assert "refused" in response.text
    assert "<code id='error'>access_denied</code>" in response.text
