"""Login sessions: a resource owner signed in at the gateway's login page stays signed in, in that browser.

A successful login through the page (``oauthgw.backends``) starts a session: a
random key in a cookie of the gateway's own (``COOKIE_NAME``, path ``/oauth2/``,
``HttpOnly``, ``SameSite=Lax``, ``Secure`` unless ``DEBUG``), and a row
(``LoginSession``) that keeps only the key's SHA-256 checksum. It is not Django's
session: an admin signed into ``/admin/`` in the same browser is no resource
owner here, and signing a resource owner in touches no admin cookie. Every
worker process and instance reads the same row, so a logout or an expiry acts
everywhere at once.

While it lasts (``LOGIN_SESSION_SECONDS``), an authorization request of any
client whose resource owners the same authorization server vouches for is
answered without the form (single sign-on); a client of another server asks
for the password again. A blocked owner's sessions are refused at once.

**The upstream's refresh token.** What the server answered at the login goes
with the session; each token family a code of the session starts
(``oauthgw.issuing.sessions``) is bound to it. The server's refresh token is
taken by the first family alone, with a conditional UPDATE, so two families
never send it upstream twice (a server that rotates its refresh tokens,
Glewlwyd can, would take the second use for a replay and end both). The others
end, under re-verification, when the server's own answer would have expired,
as a session whose login got no refresh token does.
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from oauthgw.conf import gateway_settings
from oauthgw.credentials import token_checksum
from oauthgw.exceptions import DecryptionError
from oauthgw.issuing.sessions import UpstreamLogin
from oauthgw.models import LoginSession
from oauthgw.upstream.servers import reverification_for

logger = logging.getLogger(__name__)

COOKIE_NAME = "oauthgw_login"
# Only the authorization endpoints read it: never sent to the APIs or the admin.
COOKIE_PATH = "/oauth2/"
KEY_BYTES = 32


def login_session_start(*, login: UpstreamLogin, lasts: int) -> tuple[LoginSession, str]:
    """Start a session of ``lasts`` seconds for a login through the page; return it with the cookie's key."""
    seconds = lasts
    key = secrets.token_urlsafe(KEY_BYTES)
    now = timezone.now()
    session = LoginSession(
        key_checksum=token_checksum(key),
        user_id=login.user.pk,
        authorization_server=login.authorization_server,
        upstream_expires_in=login.expires_in,
        started=login.verified,
        expires=now + timedelta(seconds=seconds),
    )
    # Encrypted at rest (oauthgw.encryption); never in the cookie, a URL or a log line.
    session.refresh_token = login.refresh_token or ""
    session.save()
    return session, key


def login_session_for(key: str | None, *, client) -> LoginSession | None:
    """The live session of the cookie ``key``, if its authorization server vouches for ``client``'s owners.

    None for no key, an unknown, expired or logged-out one, a blocked owner, or a
    session with another authorization server. One indexed query.
    """
    if not key or len(key) > 128:
        return None
    session = (
        LoginSession.objects.filter(key_checksum=token_checksum(key), expires__gt=timezone.now())
        .exclude(Q(user__resource_owner__blocked=True) | Q(user__resource_owner__isnull=True))
        .first()
    )
    if session is None or session.authorization_server != reverification_for(client).server:
        return None
    return session


def login_session_valid(session_id: int | None) -> bool:
    """Whether the session a waiting authorization request was signed into still lasts."""
    if session_id is None:
        return False
    return (
        LoginSession.objects.filter(pk=session_id, expires__gt=timezone.now())
        .exclude(user__resource_owner__blocked=True)
        .exists()
    )


def login_session_end(key: str | None) -> bool:
    """Log out: delete the session of the cookie ``key``; return whether there was one."""
    if not key or len(key) > 128:
        return False
    deleted, _ = LoginSession.objects.filter(key_checksum=token_checksum(key)).delete()
    return bool(deleted)


def login_session_upstream_login(*, session_id: int | None, user, client, take_refresh_token: bool):
    """What the upstream said at the session's login, for the token family a code of it starts.

    ``take_refresh_token``: this family will have refresh tokens, so it takes the
    upstream's refresh token if no family took it before. The others get the
    server's own lifetime, counted from the login. None when the session is gone
    (logged out since the code was issued): the family then has no upstream
    verdict of its own.
    """
    session = LoginSession.objects.filter(pk=session_id).first() if session_id is not None else None
    if session is None:
        return None
    refresh_token = None
    if take_refresh_token and session.encrypted_refresh_token:
        taken = LoginSession.objects.filter(
            pk=session.pk, encrypted_refresh_token=session.encrypted_refresh_token
        ).update(encrypted_refresh_token="")
        if taken:
            try:
                refresh_token = session.refresh_token
            except DecryptionError as exc:
                logger.error("login session %s: its upstream refresh token cannot be decrypted (%s)", session.pk, exc)
    expires_in = session.upstream_expires_in
    if refresh_token is None and expires_in:
        # What remains of the server's own answer: it vouched from the login on.
        elapsed = int((timezone.now() - session.started).total_seconds())
        expires_in = max(1, expires_in - elapsed)
    return UpstreamLogin(
        user=user,
        authorization_server=session.authorization_server,
        verified=session.started,
        refresh_token=refresh_token,
        expires_in=expires_in,
        reverify_after=reverification_for(client).after,
    )


def login_cookie_settings() -> dict:
    """The attributes of the session cookie (``HttpResponse.set_cookie`` keywords, without the value)."""
    return {
        "max_age": gateway_settings.LOGIN_SESSION_SECONDS,
        "path": COOKIE_PATH,
        "secure": not settings.DEBUG,
        "httponly": True,
        "samesite": "Lax",
    }


def login_sessions_purge() -> int:
    """Delete the sessions that have expired."""
    deleted, _ = LoginSession.objects.filter(expires__lte=timezone.now()).delete()
    return deleted
