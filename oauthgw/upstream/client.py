"""The one place that speaks HTTP to external authorization servers.

It forwards a resource owner's username and password as an RFC 6749 section 4.3
password-grant request and says whether the server accepted them, and later asks
the server with the refresh token it issued then (section 6) whether it still
vouches for that session. It imports no models and no views. The password and
the upstream's refresh token exist only in the arguments and results of one
call: they are never logged or put into an exception message.

Outcomes are kept apart all the way to the client: an answer of "no" is an
``UpstreamVerdict`` with ``accepted=False``; anything that is not a clear answer
(refused connection, timeout, 5xx, a body that is not a token response, a body
too large) raises ``UpstreamUnavailable``.
"""

import base64
import binascii
import functools
import json
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from urllib.parse import quote_plus, urlencode

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import default_headers

from oauthgw.exceptions import UpstreamUnavailable
from oauthgw.signals import upstream_call_finished

# The upstream said the request itself is wrong; that is the gateway's
# configuration (its client credentials or grant), not the user's password.
_MISCONFIGURATION_ERRORS = frozenset({"invalid_client", "unauthorized_client", "unsupported_grant_type"})
_REJECTION_STATUSES = frozenset({400, 401, 403})
_CHUNK_BYTES = 8192
# What a requests Session sends by default (its compressed encodings, keep-alive).
_DEFAULT_HEADERS = {**default_headers(), "Accept": "application/json", "User-Agent": "oauthgw"}


@dataclass(frozen=True)
class UpstreamConfig:
    """Where and how to reach one external authorization server, and how often to ask it again.

    ``reverify_after``: at a refresh, the seconds after which the server is asked
    again whether it still vouches for the session (0: at every refresh; None:
    never). ``reverify_grace``: the seconds since the last successful answer
    during which an outage does not stop a refresh.
    """

    name: str
    token_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    scope: str = ""
    timeout: float = 5.0
    max_response_bytes: int = 65536
    reverify_after: int | None = None
    reverify_grace: int = 0


@dataclass(frozen=True)
class UpstreamVerdict:
    """The authorization server's clear answer about a username and password, or a refresh token.

    With an acceptance, ``subject`` and ``username`` are what the server said about
    whom it vouched for, when its answer says (its ``sub``, its ``preferred_username``
    or ``username``), else None; ``refresh_token`` is the refresh token it issued
    (a secret: never in ``repr``) and ``expires_in`` the lifetime it gave its
    access token, each None when the answer has none.
    """

    accepted: bool
    status: int
    latency: float
    subject: str | None = None
    username: str | None = None
    refresh_token: str | None = field(default=None, repr=False)
    expires_in: int | None = None


class _Transport:
    """A connection pool and a bounded set of worker threads, one per process.

    The call runs in a worker so the caller can stop waiting at a hard deadline:
    socket timeouts bound each read, not a server that drips bytes slowly, and
    nothing bounds a name lookup.
    """

    def __init__(self, max_workers: int):
        # requests' transport without a Session: the Session's per-call work
        # (merging settings, walking the environment for proxies twice, preparing
        # the request from scratch) was two thirds of the CPU of a call.
        self.adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max_workers)
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="upstream")


@dataclass(frozen=True)
class _Route:
    """How a requests Session would reach a URL: the URL as sent, the environment's proxies and CA bundle."""

    url: str
    proxies: dict
    verify: bool | str


@functools.lru_cache(maxsize=64)
def _route(url: str) -> _Route:
    # Resolved once per URL and process by requests' own rules, which a Session
    # would apply on every call (HTTP(S)_PROXY and NO_PROXY; REQUESTS_CA_BUNDLE,
    # CURL_CA_BUNDLE): requests reads the environment, not the gateway.
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    with requests.Session() as session:
        environment = session.merge_environment_settings(prepared.url, {}, None, None, None)
    return _Route(url=prepared.url, proxies=environment["proxies"], verify=environment["verify"])


_transport: _Transport | None = None
_transport_pid: int | None = None
_transport_lock = threading.Lock()


def _get_transport(max_workers: int) -> _Transport:
    # Created lazily and again after a fork: gunicorn workers must not share
    # sockets or threads with the master.
    global _transport, _transport_pid
    with _transport_lock:
        if _transport is None or _transport_pid != os.getpid():
            _transport = _Transport(max_workers)
            _transport_pid = os.getpid()
        return _transport


def _basic_authorization(client_id: str, client_secret: str) -> str:
    # RFC 6749 section 2.3.1: form-urlencode id and secret before Basic encoding.
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")


def _read_capped(response: requests.Response, *, limit: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UpstreamUnavailable("too_large", f"declared body of {declared} bytes exceeds {limit}")
    body = bytearray()
    for chunk in response.iter_content(_CHUNK_BYTES):
        body.extend(chunk)
        if len(body) > limit:
            raise UpstreamUnavailable("too_large", f"body exceeds {limit} bytes")
        if time.monotonic() > deadline:
            raise UpstreamUnavailable("timeout", "body not received before the deadline")
    return bytes(body)


def _json_object(body: bytes) -> dict | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _check_token_response(document: dict | None) -> None:
    """Raise unless ``document`` is an unambiguous RFC 6749 section 5.1 success."""
    if document is None:
        raise UpstreamUnavailable("malformed", "200 without a JSON object")
    if "error" in document:
        # Success and failure at once: the gateway cannot tell which one the
        # server meant, so it must not issue a token on the strength of it.
        raise UpstreamUnavailable("malformed", "200 with an error member")
    for member in ("access_token", "token_type"):
        value = document.get(member)
        if not isinstance(value, str) or not value:
            raise UpstreamUnavailable("malformed", f"200 without a string {member}")


def _classify(status: int, body: bytes) -> bool:
    """True for accepted, False for rejected; raises for anything unclear."""
    document = _json_object(body)
    if status == 200:
        _check_token_response(document)
        return True
    if status in _REJECTION_STATUSES:
        error = document.get("error") if document else None
        if error in _MISCONFIGURATION_ERRORS:
            raise UpstreamUnavailable("misconfigured", f"HTTP {status} {error}: check the gateway's upstream client")
        return False
    raise UpstreamUnavailable("status", f"HTTP {status}")


def _request(config: UpstreamConfig, url: str, form: dict, headers: dict) -> requests.PreparedRequest:
    body = urlencode(form)  # ASCII: every other character is percent-encoded (as UTF-8)
    request = requests.PreparedRequest()
    request.method = "POST"
    request.url = url
    request.headers = CaseInsensitiveDict(
        {
            **_DEFAULT_HEADERS,
            **headers,
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(body)),
            "Authorization": _basic_authorization(config.client_id, config.client_secret),
        }
    )
    request.body = body
    return request


def _post_form(
    config: UpstreamConfig, adapter: HTTPAdapter, form: dict, headers: dict, deadline: float
) -> tuple[int, bytes]:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        # Queued past the deadline: the caller has already answered; do not send
        # the credentials at all.
        raise UpstreamUnavailable("timeout", "no worker free before the deadline")
    try:
        route = _route(config.token_url)
        # The adapter neither follows redirects nor retries.
        with adapter.send(
            _request(config, route.url, form, headers),
            stream=True,
            timeout=(remaining, remaining),
            verify=route.verify,
            proxies=route.proxies,
        ) as response:
            return response.status_code, _read_capped(response, limit=config.max_response_bytes, deadline=deadline)
    except requests.ConnectTimeout as exc:
        # Before the request was sent: the server is not reachable, whatever was asked.
        raise UpstreamUnavailable("connection", type(exc).__name__) from exc
    except requests.Timeout as exc:
        raise UpstreamUnavailable("timeout", type(exc).__name__) from exc
    except requests.ConnectionError as exc:
        raise UpstreamUnavailable("connection", type(exc).__name__) from exc
    except requests.RequestException as exc:
        raise UpstreamUnavailable("transport", type(exc).__name__) from exc


def _jwt_claims(value) -> dict:
    """The payload of a compact JWT, unverified, or {}: the server's own token, read for its ``sub``."""
    if not isinstance(value, str) or value.count(".") != 2:
        return {}
    payload = value.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def _identity(document: dict) -> tuple[str | None, str | None]:
    """(subject, username) the token response says it vouched for: its own members, an ID token, a JWT access token."""
    for claims in (document, _jwt_claims(document.get("id_token")), _jwt_claims(document.get("access_token"))):
        subject = claims.get("sub")
        if isinstance(subject, str | int) and str(subject).strip():
            username = claims.get("preferred_username") or claims.get("username")
            return str(subject).strip(), username if isinstance(username, str) and username.strip() else None
    return None, None


def _issued(document: dict) -> tuple[str | None, int | None]:
    """(refresh_token, expires_in) of a token response, each None when absent or not usable."""
    refresh_token = document.get("refresh_token")
    expires_in = document.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)  # some servers send it as a string
    return (
        refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_in if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0 else None,
    )


def _post_grant(
    config: UpstreamConfig, adapter: HTTPAdapter, form: dict, headers: dict, deadline: float
) -> UpstreamVerdict:
    # The latency is the caller's to measure (queueing included): ``_exchange``.
    status, body = _post_form(config, adapter, form, headers, deadline)
    if not _classify(status, body):
        return UpstreamVerdict(accepted=False, status=status, latency=0.0)
    document = _json_object(body) or {}
    subject, username = _identity(document)
    refresh_token, expires_in = _issued(document)
    return UpstreamVerdict(
        accepted=True,
        status=status,
        latency=0.0,
        subject=subject,
        username=username,
        refresh_token=refresh_token,
        expires_in=expires_in,
    )


def _exchange(config: UpstreamConfig, form: dict, *, client_ip: str | None, max_concurrency: int) -> UpstreamVerdict:
    """POST ``form`` to the token endpoint within the deadline; the verdict, or ``UpstreamUnavailable``."""
    headers = {}
    if client_ip:
        # Lets the upstream's own lockout see the end user, not the gateway.
        headers["X-Forwarded-For"] = client_ip
    started = time.monotonic()
    deadline = started + config.timeout
    transport = _get_transport(max_concurrency)
    future = transport.executor.submit(_post_grant, config, transport.adapter, form, headers, deadline)
    fault = None
    try:
        try:
            verdict = future.result(timeout=config.timeout)
        except FutureTimeout as exc:
            future.cancel()
            raise UpstreamUnavailable("timeout", f"no answer within {config.timeout:g}s") from exc
    except UpstreamUnavailable as exc:
        fault = exc.kind
        raise
    finally:
        # Metrics are observability's (oauthgw.observability.metrics): announced, not kept here.
        upstream_call_finished.send(
            sender=UpstreamConfig, server=config.name, latency=time.monotonic() - started, fault=fault
        )
    return replace(verdict, latency=time.monotonic() - started)


def verify_password(
    config: UpstreamConfig,
    *,
    username: str,
    password: str,
    client_ip: str | None = None,
    max_concurrency: int = 32,
) -> UpstreamVerdict:
    """Ask the authorization server whether ``username`` / ``password`` are valid."""
    form = {"grant_type": "password", "username": username, "password": password}
    if config.scope:
        form["scope"] = config.scope
    return _exchange(config, form, client_ip=client_ip, max_concurrency=max_concurrency)


def refresh_upstream(
    config: UpstreamConfig,
    *,
    refresh_token: str,
    client_ip: str | None = None,
    max_concurrency: int = 32,
) -> UpstreamVerdict:
    """Ask the authorization server whether it still honours ``refresh_token`` (RFC 6749 section 6).

    Read as a password check is: a 400, 401 or 403 that is not about the
    gateway's own registration means the server no longer vouches for the
    session; an acceptance may carry a new refresh token that replaces this one.
    No scope is sent: the server keeps the one it granted (section 6).
    """
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _exchange(config, form, client_ip=client_ip, max_concurrency=max_concurrency)


@dataclass(frozen=True)
class UpstreamProbe:
    """How a token endpoint answered a request that cannot succeed and carries no one's credentials.

    ``verdict`` is ``ok`` (it answered like an RFC 6749 token endpoint),
    ``misconfigured`` (it refused the gateway's own client or grant),
    ``unexpected`` (an answer a token endpoint would not give) or ``unreachable``.
    """

    verdict: str
    latency: float
    status: int | None = None
    error: str = ""
    detail: str = ""

    @property
    def reachable(self) -> bool:
        return self.status is not None


# The grant type of the liveness probe. Not an absolute URI, so no server can have
# it registered as an extension grant (RFC 6749 section 4.5): a token endpoint
# refuses it (400 unsupported_grant_type, section 5.2) from the grant type alone,
# before it looks up any user, so it answers as fast whatever it thinks of
# passwords, and an upstream that answers failed logins slowly answers it at once.
PROBE_GRANT_TYPE = "oauthgw-liveness-probe"
# What a token endpoint answers about the gateway's own registration, whichever request it was.
_CLIENT_REFUSED = frozenset({"invalid_client", "unauthorized_client"})


def _liveness_verdict(status: int, error: str) -> tuple[str, str]:
    if status in _REJECTION_STATUSES:
        if error in _CLIENT_REFUSED:
            return "misconfigured", "it refused the gateway's client id or secret"
        return "ok", "it refused a grant type that does not exist, as a token endpoint should"
    if status == 200:
        return "unexpected", "it answered 200 to a grant type that does not exist"
    return "unexpected", f"a token endpoint does not answer HTTP {status}"


def _registration_verdict(status: int, error: str) -> tuple[str, str]:
    if status in _REJECTION_STATUSES:
        if error in _MISCONFIGURATION_ERRORS:
            return "misconfigured", "it refused the gateway's client id, secret or the password grant"
        return "ok", "it refused an incomplete password grant, as a token endpoint should"
    if status == 200:
        return "unexpected", "it answered 200 to a request without a password"
    return "unexpected", f"a token endpoint does not answer HTTP {status}"


def _probe(config: UpstreamConfig, form: dict, verdict_of, max_concurrency: int) -> UpstreamProbe:
    started = time.monotonic()
    deadline = started + config.timeout
    transport = _get_transport(max_concurrency)
    future = transport.executor.submit(_post_form, config, transport.adapter, form, {}, deadline)
    try:
        status, body = future.result(timeout=config.timeout)
    except FutureTimeout:
        future.cancel()
        return UpstreamProbe("unreachable", time.monotonic() - started, detail=f"no answer within {config.timeout:g}s")
    except UpstreamUnavailable as exc:
        # A body over the size limit did come from somewhere: reachable, but not a token endpoint.
        verdict = "unexpected" if exc.kind == "too_large" else "unreachable"
        return UpstreamProbe(verdict, time.monotonic() - started, detail=str(exc))
    document = _json_object(body) or {}
    error = document.get("error") if isinstance(document.get("error"), str) else ""
    verdict, detail = verdict_of(status, error)
    return UpstreamProbe(verdict, time.monotonic() - started, status=status, error=error, detail=detail)


def probe_token_endpoint(config: UpstreamConfig, *, max_concurrency: int = 32) -> UpstreamProbe:
    """Whether a token endpoint answers at ``config``, asked in a way no caller can slow down.

    The circuit breaker's probe and the first half of the admin's connection
    test: a request with the gateway's client credentials and a grant type no
    server knows (``PROBE_GRANT_TYPE``), which an RFC 6749 token endpoint refuses
    before any user lookup. No username or password is sent.
    """
    return _probe(config, {"grant_type": PROBE_GRANT_TYPE}, _liveness_verdict, max_concurrency)


def probe_client_registration(config: UpstreamConfig, *, max_concurrency: int = 32) -> UpstreamProbe:
    """Whether the token endpoint at ``config`` accepts the gateway's client and its password grant.

    The second half of the admin's connection test: an RFC 6749 section 4.3
    request for a random username that cannot exist and no password at all, so
    no real user's credentials leave the gateway and nobody's account can be
    locked by it. A server that authenticates the client before it reads the
    grant (the development server, oauthlib, Keycloak) answers a wrong client
    secret with ``invalid_client`` here, where a grant type it does not know may
    be refused before the client is looked at. (Glewlwyd answers an empty 400 to
    both, right secret or wrong.) It may take as long as a failed login: not for
    the breaker, which must not wait on what callers can slow down.
    """
    form = {"grant_type": "password", "username": f"oauthgw-connection-test-{secrets.token_hex(8)}"}
    return _probe(config, form, _registration_verdict, max_concurrency)
