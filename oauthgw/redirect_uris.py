"""Where a client may be sent back to, and which web origins may call the gateway: one home for both rules.

**Redirect URIs** (RFC 9700 section 2.1, RFC 6749 section 3.1.2, RFC 8252): a
client registers each one whole, and an authorization request must name one of
them as the exact same string: no added query, path, fragment or letter case.
The one difference allowed is the port of a loopback redirect URI of a native
app (RFC 8252 section 7.3): a public client registered with
``http://127.0.0.1/callback`` may be sent to ``http://127.0.0.1:53211/callback``,
since the port is chosen by the operating system when the app starts.

What may be registered: ``https`` URIs; ``http`` only on a loopback IP literal
(``127.0.0.1``, ``[::1]``, RFC 8252 section 7.3; ``localhost`` resolves to
whatever the machine says, section 8.3); and for public clients (native apps) a
private-use scheme in reverse domain name form, such as ``com.example.app:/callback``
(section 7.1). Never a fragment (RFC 6749 section 3.1.2), never user
information, never a wildcard.

**Origins** (CORS) are a scheme, a host and a port: ``https``, or ``http`` on a
loopback host for development.
"""

import ipaddress
from urllib.parse import urlsplit

HTTPS = "https"
HTTP = "http"
_LOOPBACK_NAMES = frozenset({"localhost"})


def _is_loopback_literal(host: str | None) -> bool:
    try:
        return bool(host) and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _private_use_scheme(scheme: str) -> bool:
    # RFC 8252 section 7.1: a reverse domain name the app's owner controls, so
    # never a one-word scheme another app could claim as easily.
    return "." in scheme and scheme not in (HTTP, HTTPS)


def redirect_uri_problem(uri: str, *, public: bool) -> str | None:
    """Why ``uri`` cannot be registered as a redirect URI, or None when it can."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return f"{uri} is not a URI."
    scheme = parts.scheme.lower()
    if not scheme or uri != uri.strip() or any(char.isspace() for char in uri):
        return f"{uri} is not an absolute URI."
    if parts.fragment or "#" in uri:
        return f"{uri} has a fragment; a redirect URI must not (RFC 6749 section 3.1.2)."
    if "*" in uri:
        return f"{uri} has a wildcard; register every redirect URI whole."
    if scheme == HTTPS:
        if not parts.hostname or parts.username is not None:
            return f"{uri} needs a host name and no user information."
        return None
    if scheme == HTTP:
        if _is_loopback_literal(parts.hostname) and parts.username is None:
            return None
        return f"{uri} uses http: only a loopback address (127.0.0.1 or [::1]) may; use https."
    if _private_use_scheme(scheme):
        if not public:
            return f"{uri} uses a private-use scheme, which only public clients (native apps) may register."
        return None
    return f"{uri}: the scheme must be https, http on 127.0.0.1 or [::1], or a native app's reverse domain name."


def _without_port(uri: str) -> tuple:
    parts = urlsplit(uri)
    return (parts.scheme, parts.hostname, parts.path, parts.query, parts.username)


def redirect_uri_matches(uri: str, registered: list[str], *, public: bool) -> bool:
    """Whether ``uri`` is one of ``registered``: the same string, or a loopback one with another port."""
    if uri in registered:
        return True
    if not public:
        return False
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018
    except ValueError:
        return False
    if parts.scheme != HTTP or not _is_loopback_literal(parts.hostname) or parts.fragment:
        return False
    wanted = _without_port(uri)
    for candidate in registered:
        candidate_parts = urlsplit(candidate)
        if candidate_parts.scheme == HTTP and _is_loopback_literal(candidate_parts.hostname):
            if _without_port(candidate) == wanted and _same_authority_but_port(candidate_parts, parts):
                return True
    return False


def _host_as_written(parts) -> str:
    return parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc


def _same_authority_but_port(registered, presented) -> bool:
    # The host exactly as written (127.0.0.1 is not 127.000.000.001): only the port may differ.
    return _host_as_written(registered) == _host_as_written(presented)


def redirect_uri_schemes(registered: list[str]) -> list[str]:
    """The schemes a redirect to one of ``registered`` may use (the toolkit checks every redirect's)."""
    return sorted({urlsplit(uri).scheme.lower() for uri in registered} | {HTTPS})


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` cannot be registered for CORS, or None."""
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018
    except ValueError:
        return f"{origin} is not an origin."
    if parts.path or parts.query or parts.fragment or not parts.hostname or parts.username is not None:
        return f"{origin} is not an origin: a scheme, a host and an optional port, nothing else."
    if parts.scheme == HTTPS:
        return None
    if parts.scheme == HTTP and (_is_loopback_literal(parts.hostname) or parts.hostname in _LOOPBACK_NAMES):
        return None
    return f"{origin}: an origin must use https (or http on a loopback host, for development)."


def origin_matches(origin: str, registered: list[str]) -> bool:
    """Whether the ``Origin`` header ``origin`` is one of ``registered`` (compared as browsers send it)."""
    return bool(origin) and origin.lower().rstrip("/") in {value.lower().rstrip("/") for value in registered}
