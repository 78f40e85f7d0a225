"""One-time form tokens: the forms that make a secret do their work once.

The page that shows a new secret is the answer to a POST, so a reload, a double
click or a retried request submits the form again: a second client with the same
name, or a second rotation that ends the first one's grace period. Each such form
carries a random token signed for its purpose; the first submission claims it,
and a later one finds it claimed and changes nothing.

The claim is a row in the database (``SharedValue``, keyed by the token), written
in the same transaction as the work: if the work fails the claim is rolled back,
and concurrent submissions of one token meet at the row's primary key. It does
not go through ``shared_state``, whose Redis store answers "already stored" while
Redis is down, which would refuse every new client during a Redis outage.
"""

import json
import secrets
import time
from dataclasses import dataclass

from django.core import signing
from django.db import IntegrityError, transaction

from oauthgw.models import SharedValue

FIELD = "form_token"
# A form left open longer than this is refused once (and rendered with a new token).
MAX_AGE = 24 * 3600
_KEY_PREFIX = "admin-form-token:"


@dataclass(frozen=True)
class Submission:
    """What the first submission of a token acted on (None while it is still running)."""

    client_pk: int | None


def _signer(purpose: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"oauthgw.admin.form-token.{purpose}")


def form_token_issue(*, purpose: str) -> str:
    """A new token for one rendering of a form; ``purpose`` binds it to that form and object."""
    return _signer(purpose).sign(secrets.token_urlsafe(18))


def form_token_check(token: str | None, *, purpose: str) -> str | None:
    """The token's random part if this server issued it for ``purpose`` within ``MAX_AGE``, else None."""
    if not token:
        return None
    try:
        return _signer(purpose).unsign(token, max_age=MAX_AGE)
    except signing.BadSignature:
        return None


def form_token_submission(nonce: str) -> Submission | None:
    """The first submission of this token, or None if it has not been submitted."""
    row = SharedValue.objects.filter(key=_KEY_PREFIX + nonce).values_list("value", flat=True).first()
    return None if row is None else Submission(client_pk=json.loads(row))


def form_token_claim(nonce: str, *, client_pk: int | None = None) -> bool:
    """Mark the token submitted; False if it already was. Call it inside the work's transaction."""
    now = time.time()
    # Claims outlive their tokens by nothing: an expired token is refused by its signature.
    SharedValue.objects.filter(key__startswith=_KEY_PREFIX, expires__lte=now).delete()
    try:
        with transaction.atomic():
            SharedValue.objects.create(key=_KEY_PREFIX + nonce, value=json.dumps(client_pk), expires=now + MAX_AGE)
    except IntegrityError:
        return False
    return True


def form_token_record(nonce: str, *, client_pk: int) -> None:
    """Remember what a claimed token's submission created, for the "already done" page."""
    SharedValue.objects.filter(key=_KEY_PREFIX + nonce).update(value=json.dumps(client_pk))
