"""Authorization codes: stored by checksum, short-lived, used once; a second use revokes what the first issued.

RFC 6749 section 4.1.2: "If an authorization code is used more than once, the
authorization server MUST deny the request and SHOULD revoke (when possible)
all tokens previously issued based on that authorization code." A code is a
row of ``AuthorizationCode`` (the toolkit's Grant, swapped) keyed by the
SHA-256 checksum of the code, as tokens are: a copy of the database holds no
code anyone could exchange.

**Used once, across processes.** The exchange runs in one transaction (the
token view opens it). Once every check has passed (client, PKCE verifier,
redirect URI), the code is claimed with a conditional UPDATE (``used`` from
NULL to now); the new pair's family and access token are written on the same
row before the transaction commits. A concurrent second exchange of the same
code waits for that row on PostgreSQL (SQLite runs one write transaction at a
time), then finds it used: it is refused, and it revokes the family the first
one started, which by then is committed. A later presentation finds the row
used and does the same. A wrong verifier or redirect URI uses nothing up.

Used rows stay until ``cleartokens`` deletes expired codes, so a code replayed
within that time still revokes what it issued; the code itself was good for
``AUTHORIZATION_CODE_EXPIRE_SECONDS`` (60) only.
"""

import logging
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.settings import oauth2_settings

from oauthgw.credentials import token_checksum
from oauthgw.issuing.sessions import session_end
from oauthgw.models import AuthorizationCode

logger = logging.getLogger(__name__)


def authorization_code_create(
    *, code: str, client, user, redirect_uri: str, scopes: list[str], code_challenge: str, method: str, login_id
) -> AuthorizationCode:
    """Record a code the authorization endpoint is about to send; only its checksum is kept."""
    return AuthorizationCode.objects.create(
        application=client,
        user=user,
        code=token_checksum(code),
        expires=timezone.now() + timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS),
        redirect_uri=redirect_uri,
        scope=" ".join(scopes),
        code_challenge=code_challenge,
        code_challenge_method=method,
        login_id=login_id,
    )


def authorization_code_load(*, code: str, client) -> AuthorizationCode | None:
    """The code's row if it was issued to ``client`` (used or not, expired or not), with its owner."""
    if not code or len(code) > 512:
        return None
    return (
        AuthorizationCode.objects.select_related("user__resource_owner")
        .filter(code=token_checksum(code), application=client)
        .first()
    )


def authorization_code_claim(code: AuthorizationCode) -> bool:
    """Mark ``code`` used; False if another exchange used it first (then it is a replay)."""
    now = timezone.now()
    return bool(AuthorizationCode.objects.filter(pk=code.pk, used__isnull=True).update(used=now, updated=now))


def authorization_code_record_issued(*, code_id: int, family: uuid.UUID | None, access_token_id: int | None) -> None:
    """Keep on the code what its exchange issued, for a replay to revoke."""
    AuthorizationCode.objects.filter(pk=code_id).update(token_family=family, access_token_id=access_token_id)


def authorization_code_replayed(*, code_id: int) -> None:
    """A used code came back: revoke the token family (or the lone access token) its first exchange issued."""
    issued = AuthorizationCode.objects.filter(pk=code_id).values("token_family", "access_token_id").first()
    if issued is None:
        return
    with transaction.atomic():
        if issued["token_family"] is not None:
            get_refresh_token_model().revoke_family(issued["token_family"])
            session_end(family=issued["token_family"])
        if issued["access_token_id"] is not None:
            get_access_token_model().objects.filter(pk=issued["access_token_id"]).delete()
    logger.warning(
        "authorization code %s was presented again: the tokens its first exchange issued are revoked", code_id
    )
