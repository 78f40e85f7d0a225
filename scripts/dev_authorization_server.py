#!/usr/bin/env python3
"""A stand-in external authorization server for running oauthgw on a laptop.

It answers RFC 6749 section 4.3 password-grant requests on ``POST /token``, with
a refresh token, and section 6 refresh requests for the refresh tokens it
issued (rotated: each is good once). It is deliberately tiny, uses only the
standard library and refuses to listen anywhere but on loopback: it holds
plain-text passwords and must never become a real deployment.

A user can be disabled while it runs, as an employee who leaves is disabled at a
real authorization server: their logins and their refresh tokens are refused
from then on (``invalid_grant``) until they are enabled again. Refresh tokens
live in memory only: a restart forgets them.

Admin calls, from a loopback address only, with the client credentials below::

    POST /admin/users/<username>/disable
    POST /admin/users/<username>/enable

``GET /callback`` is a page that shows the ``code``, ``state`` and ``iss`` (or the
``error``) a gateway's login page sends back to it: ``make run`` registers it as
the redirect URI of its code-flow demo client, so the flow can be tried in a
browser with nothing else running.

Usage::

    python scripts/dev_authorization_server.py [--host 127.0.0.1] [--port 9011]
                                                [--users-file PATH]

Environment:

``DEV_AUTH_PORT``
    Default for ``--port`` (else 9011).
``DEV_AUTH_USERS``
    Resource owners as ``user:password,user2:password2``. Each entry is split
    on its first ``:``, so a password may contain ``:`` but a username may not.
    A username or password containing ``,`` cannot be written here; put such
    users in ``--users-file`` instead. ``--users-file`` wins when both are set.
    Without either, the only user is ``abc123`` / ``xyz456``.
``DEV_AUTH_CLIENT_ID`` / ``DEV_AUTH_CLIENT_SECRET``
    The client credentials the gateway must send with HTTP Basic
    (default ``oauthgw`` / ``oauthgw-dev-secret``).

The users file holds one ``username:password`` per line, UTF-8. Blank lines and
lines whose first non-blank character is ``#`` are ignored; everything else on
a line is kept verbatim, including leading or trailing spaces.

Passwords and tokens are never printed or logged; the access log has only the
method, the path without its query string, and the status.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import html
import ipaddress
import json
import os
import secrets
import signal
import socket
import sys
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import ClassVar

DEFAULT_PORT = 9011
DEFAULT_USERS = {"abc123": "xyz456"}
DEFAULT_CLIENT_ID = "oauthgw"
DEFAULT_CLIENT_SECRET = "oauthgw-dev-secret"
MAX_BODY_BYTES = 64 * 1024
# Oversized bodies up to this size are read and thrown away before answering,
# so the client sees the 413 instead of a connection reset.
MAX_DRAIN_BYTES = 1024 * 1024
TOKEN_LIFETIME_SECONDS = 3600
# Refresh tokens kept in memory; the oldest are forgotten beyond this.
MAX_REFRESH_TOKENS = 100_000
REALM = "dev-authorization-server"
# One fixed value to compare against for unknown users, so that an unknown
# username costs the same as a wrong password.
_UNKNOWN_USER_PASSWORD = secrets.token_bytes(32)


class ConfigError(Exception):
    """The command line or environment cannot be turned into a server."""


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error response, raised to end request handling."""

    def __init__(
        self,
        status: HTTPStatus,
        error: str,
        description: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


# --- configuration ---------------------------------------------------------


def parse_user_entries(entries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Build ``{username: password}`` from ``(where, "user:password")`` pairs.

    ``where`` names the entry in error messages; the entry text itself is never
    echoed because it holds a password.
    """
    users: dict[str, str] = {}
    for where, entry in entries:
        username, sep, password = entry.partition(":")
        if not sep:
            raise ConfigError(f"{where}: expected 'username:password' (no ':' found)")
        if not username or not password:
            raise ConfigError(f"{where}: username and password must not be empty")
        if username in users:
            raise ConfigError(f"{where}: duplicate username")
        users[username] = password
    return users


def users_from_env(value: str) -> dict[str, str]:
    entries = [(f"DEV_AUTH_USERS entry {n}", entry) for n, entry in enumerate(value.split(","), start=1) if entry]
    return parse_user_entries(entries)


def users_from_file(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read users file {path}: {exc}") from exc
    entries = [
        (f"{path} line {n}", line)
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return parse_user_entries(entries)


def load_users(users_file: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    if users_file:
        users = users_from_file(users_file)
    elif environ.get("DEV_AUTH_USERS"):
        users = users_from_env(environ["DEV_AUTH_USERS"])
    else:
        return dict(DEFAULT_USERS)
    if not users:
        raise ConfigError("no users defined")
    return users


def loopback_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Return ``host`` as an address, or refuse it unless it is loopback.

    Host names are refused too: what they resolve to is not ours to promise.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ConfigError(
            f"refusing to listen on {host!r}: this development server holds "
            "plain-text passwords and only binds to a loopback address "
            "(127.0.0.0/8 or ::1)"
        )
    return address


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return port


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Development stand-in for the external OAuth 2.0 "
        "authorization server (password grant only, loopback only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=port_number,
        default=environ.get("DEV_AUTH_PORT", str(DEFAULT_PORT)),
        help=f"TCP port (default $DEV_AUTH_PORT, else {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--users-file",
        metavar="PATH",
        help="file of username:password lines (overrides $DEV_AUTH_USERS)",
    )
    return parser


# --- request parsing -------------------------------------------------------


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """Decode an HTTP Basic header whose parts are form-encoded (RFC 6749 2.3.1)."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, client_secret = decoded.partition(":")
    if not sep:
        return None
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(client_secret)


def same_secret(expected: str, supplied: str) -> bool:
    return hmac.compare_digest(expected.encode("utf-8"), supplied.encode("utf-8"))


def form_parameters(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OAuthError(HTTPStatus.BAD_REQUEST, "invalid_request", "The body is not UTF-8.") from exc
    pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False)
    params: dict[str, str] = {}
    for name, value in pairs:
        # RFC 6749 section 3.2: parameters must not be repeated.
        if name in params:
            raise OAuthError(
                HTTPStatus.BAD_REQUEST,
                "invalid_request",
                f"Repeated parameter: {name}.",
            )
        params[name] = value
    return params


# --- the token endpoint ----------------------------------------------------


class PasswordGrantEndpoint:
    """The token-issuing rules, kept apart from HTTP plumbing."""

    def __init__(self, users: Mapping[str, str], client_id: str, client_secret: str) -> None:
        self._users = dict(users)
        self._client_id = client_id
        self._client_secret = client_secret
        self._lock = threading.Lock()
        self._disabled: set[str] = set()
        # refresh token -> the username it was issued to; each is good once.
        self._refresh_tokens: OrderedDict[str, str] = OrderedDict()

    # --- users switched off and on while running ----------------------------

    def set_enabled(self, username: str, enabled: bool) -> None:
        if username not in self._users:
            raise OAuthError(HTTPStatus.NOT_FOUND, "not_found", "No such user.")
        with self._lock:
            if enabled:
                self._disabled.discard(username)
            else:
                self._disabled.add(username)

    def _enabled(self, username: str) -> bool:
        with self._lock:
            return username not in self._disabled

    def authenticate_client(self, authorization: str | None) -> None:
        credentials = basic_credentials(authorization)
        # Both comparisons always run so that timing does not say which failed.
        ok = credentials is not None
        client_id, client_secret = credentials or ("", "")
        ok &= same_secret(self._client_id, client_id)
        ok &= same_secret(self._client_secret, client_secret)
        if not ok:
            raise OAuthError(
                HTTPStatus.UNAUTHORIZED,
                "invalid_client",
                headers={"WWW-Authenticate": f'Basic realm="{REALM}"'},
            )

    def check_resource_owner(self, username: str, password: str) -> None:
        expected = self._users.get(username)
        stored = expected.encode("utf-8") if expected is not None else _UNKNOWN_USER_PASSWORD
        matches = hmac.compare_digest(stored, password.encode("utf-8"))
        if expected is None or not matches:
            raise OAuthError(
                HTTPStatus.BAD_REQUEST,
                "invalid_grant",
                "Invalid resource owner credentials.",
            )

    def issue(self, params: Mapping[str, str]) -> dict[str, object]:
        grant_type = params.get("grant_type")
        if grant_type is None:
            raise OAuthError(HTTPStatus.BAD_REQUEST, "invalid_request", "Missing grant_type.")
        if grant_type == "refresh_token":
            return self.refresh(params)
        if grant_type != "password":
            raise OAuthError(HTTPStatus.BAD_REQUEST, "unsupported_grant_type")
        if "username" not in params or "password" not in params:
            raise OAuthError(
                HTTPStatus.BAD_REQUEST,
                "invalid_request",
                "The password grant needs username and password.",
            )
        username = params["username"]
        self.check_resource_owner(username, params["password"])
        if not self._enabled(username):
            # Checked after the password, so a disabled user's answer says nothing more.
            raise OAuthError(HTTPStatus.BAD_REQUEST, "invalid_grant", "Invalid resource owner credentials.")
        return self._tokens(username, scope=params.get("scope", ""))

    def refresh(self, params: Mapping[str, str]) -> dict[str, object]:
        """RFC 6749 section 6: a new pair for a live refresh token of an enabled user; the old one dies."""
        token = params.get("refresh_token")
        if not token:
            raise OAuthError(HTTPStatus.BAD_REQUEST, "invalid_request", "The refresh grant needs refresh_token.")
        with self._lock:
            username = self._refresh_tokens.pop(token, None)
            usable = username is not None and username not in self._disabled
        if not usable:
            raise OAuthError(HTTPStatus.BAD_REQUEST, "invalid_grant", "The refresh token is invalid or revoked.")
        return self._tokens(username, scope=params.get("scope", ""))

    def _tokens(self, username: str, *, scope: str) -> dict[str, object]:
        refresh_token = secrets.token_urlsafe(32)
        with self._lock:
            self._refresh_tokens[refresh_token] = username
            while len(self._refresh_tokens) > MAX_REFRESH_TOKENS:
                self._refresh_tokens.popitem(last=False)
        return {
            "access_token": secrets.token_urlsafe(32),
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "refresh_token": refresh_token,
            "scope": scope,
            "sub": username,
            "username": username,
        }


# --- HTTP plumbing ---------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A stalled client must not hold a thread for ever.
    timeout = 30
    routes: ClassVar[dict[str, tuple[str, ...]]] = {
        "/token": ("POST",),
        "/health": ("GET", "HEAD"),
        "/callback": ("GET", "HEAD"),
    }
    # POST /admin/users/<username>/disable and .../enable
    admin_actions: ClassVar[dict[str, bool]] = {"disable": False, "enable": True}

    server: DevAuthorizationServer
    _status: int | str = "-"

    # Every method funnels through one dispatcher so that unknown paths and
    # methods get a JSON answer too, not http.server's HTML error page.
    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    def version_string(self) -> str:
        # The default also advertises the exact Python version.
        return "dev-authorization-server"

    def _dispatch(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/admin/"):
            self._admin(path)
            return
        allowed = self.routes.get(path)
        if allowed is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "not_found"})
        elif self.command not in allowed:
            self._send_json(
                HTTPStatus.METHOD_NOT_ALLOWED,
                {"error": "method_not_allowed"},
                {"Allow": ", ".join(allowed)},
            )
        elif path == "/health":
            self._send_json(HTTPStatus.OK, {"status": "ok"})
        elif path == "/callback":
            self._callback()
        else:
            self._token()

    def _admin(self, path: str) -> None:
        """``POST /admin/users/<username>/(disable|enable)``, from loopback, with the client's credentials."""
        parts = path.split("/")
        if len(parts) != 5 or parts[:3] != ["", "admin", "users"] or parts[4] not in self.admin_actions:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": "not_found"})
            return
        if self.command != "POST":
            self._send_json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method_not_allowed"}, {"Allow": "POST"})
            return
        try:
            self._read_body()
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                raise OAuthError(HTTPStatus.FORBIDDEN, "access_denied", "Admin calls come from loopback only.")
            self.server.endpoint.authenticate_client(self.headers.get("Authorization"))
            username = urllib.parse.unquote(parts[3])
            enabled = self.admin_actions[parts[4]]
            self.server.endpoint.set_enabled(username, enabled)
        except OAuthError as err:
            self._send_json(err.status, err.body(), err.headers)
        else:
            self._send_json(HTTPStatus.OK, {"username": username, "enabled": enabled})

    def _callback(self) -> None:
        """A page showing what an authorization response brought back (the code flow's redirect URI)."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        names = ("code", "state", "iss") if "code" in query else ("error", "error_description", "state", "iss")
        rows = "".join(
            f"<dt>{name}</dt><dd><code id='{name}'>{html.escape(query.get(name, [''])[0])}</code></dd>"
            for name in names
        )
        title = "Authorization code received" if "code" in query else "The authorization request was refused"
        payload = (
            f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1><dl>{rows}</dl>"
            "<p>Exchange the code within a minute: README.md, 'Sign in with a browser'.</p></body></html>"
        ).encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        # The code is a credential for a minute: no cache, no referrer, nothing loaded or run.
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Content-Security-Policy", "default-src 'none'")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _token(self) -> None:
        # The token endpoint's answers, errors included, must not be cached.
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            body = self._read_body()
            self.server.endpoint.authenticate_client(self.headers.get("Authorization"))
            self._require_form_content_type()
            grant = self.server.endpoint.issue(form_parameters(body))
        except OAuthError as err:
            self._send_json(err.status, err.body(), {**no_store, **err.headers})
        else:
            self._send_json(HTTPStatus.OK, grant, no_store)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise OAuthError(HTTPStatus.LENGTH_REQUIRED, "invalid_request", "Send Content-Length.")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise OAuthError(HTTPStatus.BAD_REQUEST, "invalid_request", "Bad Content-Length.")
        if length > MAX_BODY_BYTES:
            self._discard_body(length)
            raise OAuthError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "invalid_request",
                f"The body exceeds {MAX_BODY_BYTES} bytes.",
            )
        return self.rfile.read(length)

    def _discard_body(self, length: int) -> None:
        self.close_connection = True
        if length > MAX_DRAIN_BYTES:
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                return
            length -= len(chunk)

    def _require_form_content_type(self) -> None:
        media_type = self.headers.get("Content-Type", "").split(";")[0]
        if media_type.strip().lower() != "application/x-www-form-urlencoded":
            raise OAuthError(
                HTTPStatus.BAD_REQUEST,
                "invalid_request",
                "Use Content-Type application/x-www-form-urlencoded.",
            )

    def _send_json(
        self,
        status: HTTPStatus,
        body: Mapping[str, object],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    # --- logging: the defaults echo the raw request line, query included,
    # and error texts built from it; either can carry credentials.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self._status = int(code) if isinstance(code, HTTPStatus) else code
        self.log_message("")

    def log_error(self, format: str, *args: object) -> None:
        # send_error() logs here and then again through log_request().
        pass

    def log_message(self, format: str, *args: object) -> None:
        method = getattr(self, "command", None) or "-"
        raw_path = getattr(self, "path", None) or "-"
        path = urllib.parse.quote(urllib.parse.urlsplit(raw_path).path, safe="/%")
        sys.stderr.write(f"{method} {path} {self._status}\n")


class DevAuthorizationServer(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen queue of 5 overflows when a gateway opens many connections at
    # once (a burst of logins); a dropped SYN is retried after a second.
    request_queue_size = 128

    def __init__(
        self,
        address: ipaddress.IPv4Address | ipaddress.IPv6Address,
        port: int,
        endpoint: PasswordGrantEndpoint,
    ) -> None:
        self.address_family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        self.endpoint = endpoint
        super().__init__((str(address), port), Handler)


def endpoint_from_env(users: Mapping[str, str], environ: Mapping[str, str]) -> PasswordGrantEndpoint:
    return PasswordGrantEndpoint(
        users,
        client_id=environ.get("DEV_AUTH_CLIENT_ID", DEFAULT_CLIENT_ID),
        client_secret=environ.get("DEV_AUTH_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
    )


def stop_on_sigterm(server: DevAuthorizationServer) -> None:
    # shutdown() waits for serve_forever() to return, so it cannot run inside
    # the handler, which interrupts the very thread that is serving.
    def handle(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, handle)


def main(argv: list[str] | None = None) -> int:
    environ = os.environ
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    try:
        address = loopback_address(args.host)
        endpoint = endpoint_from_env(load_users(args.users_file, environ), environ)
    except ConfigError as exc:
        parser.error(str(exc))  # exits with status 2
    try:
        server = DevAuthorizationServer(address, args.port, endpoint)
    except OSError as exc:
        print(f"cannot listen on {args.host} port {args.port}: {exc}", file=sys.stderr)
        return 1
    stop_on_sigterm(server)
    host = f"[{address}]" if address.version == 6 else str(address)
    print(
        f"dev authorization server listening on http://{host}:{args.port}/token",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
