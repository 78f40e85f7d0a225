"""Signing-key rotation: publish a new key first, sign with it later, unpublish the old one after its last token.

A rotation at ``T`` with the publishing delay ``D`` (``SIGNING_KEY_PUBLISH_SECONDS``,
longer than the JWKS' ``max-age``):

- the new key is in the JWKS from ``T`` and signs from ``T + D``: by then every
  verifier that honours the JWKS' cache headers has fetched it;
- the key signing until then stops at ``T + D`` and stays in the JWKS until
  ``T + D + L + CLOCK_LEEWAY``, ``L`` being the longest lifetime a JWT access
  token has at the rotation; after that it is gone, and the next rotation
  deletes it (its private key with it);
- no token outlives its key's publication even if a client's lifetime grows
  during the handover: a key's tokens are cut short to end ``CLOCK_LEEWAY``
  before its ``published_until`` (``signer_within``).

The first key signs at once (there is nothing to publish it before). A
``compromised`` rotation also signs at once and unpublishes every older key at
once: the gateway refuses their tokens within seconds, external APIs once their
copy of the JWKS expires. Each process follows the schedule by the clock
(``oauthgw.signing_keys``), so nothing has to tell the other processes.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from oauthgw import signing_keys, token_formats
from oauthgw.conf import gateway_settings
from oauthgw.exceptions import DecryptionError, TemporarilyUnavailableError
from oauthgw.models import Application, SigningKey

logger = logging.getLogger(__name__)

# Clocks of the gateway's and the APIs' machines may disagree by this much.
CLOCK_LEEWAY = timedelta(seconds=60)


@dataclass(frozen=True)
class Rotation:
    """What a rotation did; never key material."""

    key: SigningKey
    previous_published_until: datetime | None
    deleted: int


def _longest_jwt_lifetime() -> timedelta:
    longest = Application.objects.filter(token_format=token_formats.JWT).aggregate(
        longest=Max("access_token_lifetime")
    )["longest"]
    return timedelta(seconds=max(longest or 0, gateway_settings.JWT_ACCESS_TOKEN_SECONDS))


def _key_create(*, generation: int, signing_from: datetime, now: datetime) -> SigningKey:
    material = signing_keys.key_material_generate(gateway_settings.JWT_SIGNING_ALGORITHM)
    key = SigningKey(
        kid=material.kid,
        algorithm=material.algorithm,
        public_jwk=material.public_jwk,
        generation=generation,
        created=now,
        signing_from=signing_from,
    )
    key.private_key = material.private_pem  # encrypted by the property
    key.save()
    return key


def _next_generation() -> int:
    return (SigningKey.objects.aggregate(latest=Max("generation"))["latest"] or 0) + 1


def _signs(key: SigningKey, now: datetime) -> bool:
    return key.signing_from <= now and (key.signing_until is None or now < key.signing_until)


@transaction.atomic
def signing_key_rotate(*, compromised: bool = False, now: datetime | None = None) -> Rotation:
    """Add a key that signs after the publishing delay (at once if ``compromised`` or the first); retire the others."""
    now = now or timezone.now()
    deleted, _ = SigningKey.objects.filter(published_until__lte=now).delete()
    # Locked: a concurrent rotation waits here, then sees this one's key.
    keys = list(SigningKey.objects.select_for_update().defer("encrypted_private_key").order_by("-generation"))
    immediate = compromised or not any(_signs(key, now) for key in keys)
    handover = now if immediate else now + timedelta(seconds=gateway_settings.SIGNING_KEY_PUBLISH_SECONDS)
    published_until = now if compromised else handover + _longest_jwt_lifetime() + CLOCK_LEEWAY
    previous_published_until = None
    for key in keys:
        changed = []
        if key.signing_until is None or key.signing_until > handover:
            key.signing_until = handover
            changed.append("signing_until")
        if key.published_until is None or (compromised and key.published_until > now):
            key.published_until = published_until
            previous_published_until = published_until
            changed.append("published_until")
        if changed:
            key.save(update_fields=changed)
    key = _key_create(generation=(keys[0].generation if keys else 0) + 1, signing_from=handover, now=now)
    transaction.on_commit(signing_keys.forget)
    logger.info(
        "signing key %s added, signs from %s%s", key.kid, handover.isoformat(), " (compromised rotation)" * compromised
    )
    return Rotation(key=key, previous_published_until=previous_published_until, deleted=deleted)


def signing_key_ensure() -> None:
    """Create the first key if no key signs now (a fresh installation): it signs at once."""
    if signing_keys.signing_key() is None and signing_keys.signing_key(fresh=True) is None:
        _first_key_create()


def _first_key_create() -> None:
    try:
        with transaction.atomic():
            # Checked again inside the transaction, on the clock read there: on
            # SQLite a concurrent creator has committed by the time this one holds
            # the write lock (an earlier reading would predate that key's
            # signing_from); on PostgreSQL both may get here, and the unique
            # generation lets one insert win.
            now = timezone.now()
            if any(_signs(key, now) for key in SigningKey.objects.defer("encrypted_private_key")):
                return
            _key_create(generation=_next_generation(), signing_from=now, now=now)
    except IntegrityError:
        return  # another process created it at the same moment: that one is read instead
    logger.info("first signing key created")
    signing_keys.forget()
    transaction.on_commit(signing_keys.forget)


def signer_for_now() -> signing_keys.Signer:
    """The key that signs now with its private key, created on first need; 503 if it cannot be used."""
    try:
        signer = signing_keys.signer()
        if signer is None:
            signing_key_ensure()
            signer = signing_keys.signer(fresh=True)
    except DecryptionError as exc:
        logger.error("the private signing key cannot be decrypted: %s (check OAUTHGW_ENCRYPTION_KEYS)", exc)
        raise TemporarilyUnavailableError(
            retry_after=gateway_settings.UPSTREAM_RETRY_AFTER,
            description="Access tokens cannot be signed right now; try again later.",
        ) from exc
    if signer is None:
        # Only a schedule edited by hand leaves no key signing after ensure().
        logger.error("no signing key signs now; run manage.py rotate_signing_key")
        raise TemporarilyUnavailableError(
            retry_after=gateway_settings.UPSTREAM_RETRY_AFTER,
            description="Access tokens cannot be signed right now; try again later.",
        )
    return signer


def signer_within(seconds: int) -> tuple[signing_keys.Signer, int]:
    """The signer for a token meant to live ``seconds``, and its lifetime cut to end before the key's publication."""
    signer = signer_for_now()
    published_until = signer.key.published_until
    if published_until is not None:
        remaining = int((published_until - CLOCK_LEEWAY - timezone.now()).total_seconds())
        seconds = max(1, min(seconds, remaining))
    return signer, seconds
