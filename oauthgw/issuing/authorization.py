"""Authorization requests that wait for a person: the login page and the consent page, bound to their request.

``GET /oauth2/authorize`` checks a request once (oauthlib, through the toolkit's
authorization view). When it cannot be answered at once (nobody signed in, or
the client needs the person's consent) the checked request is kept here
(``AuthorizationRequest``) under a random handle, and the page's form carries
only that handle: a form posted for another client's request, or after the
request expired (``AUTHORIZATION_REQUEST_SECONDS``), is refused, and no
parameter travels in a hidden field a page could alter.

**Once, whatever the browser does.** A person double-clicks, reloads, goes back:

- A login attempt holds the request (``attempt_until``) while it asks the
  upstream; a second submission of the same form waits for it and shows its
  outcome instead of sending the password upstream again.
- The request is answered once: the redirect that carries the code is kept,
  encrypted, until the code expires, and a repeated ``continue`` gets the same
  redirect, never a second code.
"""

import secrets
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from oauthgw.conf import gateway_settings
from oauthgw.models import AuthorizationRequest, LoginSession

HANDLE_BYTES = 32
_WAIT_STEP_SECONDS = 0.2


def authorization_request_create(
    *, client, redirect_uri: str, scopes: list[str], state: str, code_challenge: str, method: str
) -> AuthorizationRequest:
    now = timezone.now()
    return AuthorizationRequest.objects.create(
        handle=secrets.token_urlsafe(HANDLE_BYTES),
        client=client,
        redirect_uri=redirect_uri,
        scope=" ".join(scopes),
        state=state or "",
        code_challenge=code_challenge,
        code_challenge_method=method,
        created=now,
        expires=now + timedelta(seconds=gateway_settings.AUTHORIZATION_REQUEST_SECONDS),
    )


def authorization_request_load(handle: str | None) -> AuthorizationRequest | None:
    """The live request of ``handle``, with its client; None when unknown or expired."""
    if not handle or len(handle) > 64:
        return None
    return (
        AuthorizationRequest.objects.select_related("client").filter(handle=handle, expires__gt=timezone.now()).first()
    )


def login_attempt_start(request: AuthorizationRequest, *, seconds: float) -> bool:
    """Hold ``request`` for one login attempt; False if another submission holds it or signed it in."""
    now = timezone.now()
    free = Q(attempt_until__isnull=True) | Q(attempt_until__lt=now)
    held = AuthorizationRequest.objects.filter(free, pk=request.pk, login__isnull=True).update(
        attempt_until=now + timedelta(seconds=seconds)
    )
    return bool(held)


def login_attempt_wait(request: AuthorizationRequest, *, seconds: float) -> AuthorizationRequest:
    """Wait (at most ``seconds``) for the attempt holding ``request`` to end; return the request as it then is."""
    deadline = time.monotonic() + seconds
    while True:
        current = AuthorizationRequest.objects.select_related("client").get(pk=request.pk)
        held = current.attempt_until is not None and current.attempt_until > timezone.now()
        if not held or time.monotonic() >= deadline:
            return current
        time.sleep(_WAIT_STEP_SECONDS)


def login_attempt_succeeded(request: AuthorizationRequest, *, session: LoginSession | None) -> None:
    AuthorizationRequest.objects.filter(pk=request.pk).update(
        login=session, attempt_until=None, outcome="", retry_at=None, attempts=F("attempts") + 1
    )


def authorization_request_signed_in(request: AuthorizationRequest, *, session: LoginSession) -> None:
    """Bind ``request`` to a login session that was already signed in (it only needs consent)."""
    AuthorizationRequest.objects.filter(pk=request.pk).update(login=session)
    request.login = session


def authorization_request_signed_out(request: AuthorizationRequest) -> None:
    """Forget the login session ``request`` was signed into (it expired, or its owner was blocked): sign in again."""
    AuthorizationRequest.objects.filter(pk=request.pk, login_id=request.login_id).update(login=None)
    request.login = None


def login_attempt_failed(request: AuthorizationRequest, *, outcome: str, retry_at: datetime | None = None) -> None:
    AuthorizationRequest.objects.filter(pk=request.pk).update(
        attempt_until=None, outcome=outcome, retry_at=retry_at, attempts=F("attempts") + 1
    )


def authorization_request_consent(request: AuthorizationRequest) -> None:
    AuthorizationRequest.objects.filter(pk=request.pk).update(consented=True)


def authorization_request_answer(request: AuthorizationRequest, answer) -> str | None:
    """The redirect that answers ``request``: ``answer()`` makes it the first time, later calls get the same one.

    One transaction holds the request's row, so concurrent calls (a double
    click) wait for the first and then read what it kept. None once the code of
    that answer has expired: a request is never answered with a second code.
    """
    with transaction.atomic():
        row = AuthorizationRequest.objects.select_for_update().get(pk=request.pk)
        if row.response_expires is not None:
            return row.response if row.response_expires > timezone.now() else None
        location = answer()
        row.response = location
        row.response_expires = timezone.now() + timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS)
        row.save(update_fields=["encrypted_response", "response_expires"])
        return location


def authorization_requests_purge() -> int:
    """Delete the requests that expired (with any redirect kept for them)."""
    deleted, _ = AuthorizationRequest.objects.filter(expires__lte=timezone.now()).delete()
    return deleted
