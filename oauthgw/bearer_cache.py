"""Validated access tokens in the shared cache: a bearer check costs one cache read, no SQL.

Every gateway instance reads and invalidates the same cache (Redis in production),
so a revocation, a disabled client or an expired token takes effect at once on
all of them:

- an entry holds the token row with its client and resource owner, filled with
  ``add`` on a miss;
- deleting a token (revocation, replay of a refresh token, a deleted user) turns
  its entry into a tombstone once the deletion commits, so a request that read
  the row just before the deletion cannot put it back;
- saving a client deletes the entries of all its live tokens, before
  and again after the change commits, and marks the client as changed for a few
  seconds: a request that read the old client row just before the commit finds
  the mark after its ``add`` and drops its own entry;
- expiry is checked on every use against the cached ``expires`` (the toolkit's
  ``is_valid``), and no entry outlives its token.

Entries are pickled model instances whose secret fields (the client secret's
hashes) are deferred, so no secret hash is ever written to the cache.
"""

import copy
import hashlib
import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from oauthgw import shared_state
from oauthgw.conf import gateway_settings
from oauthgw.near_cache import MISS, NearCache

logger = logging.getLogger(__name__)

_TOKEN_KEY = "oauthgw:bearer:v2:{checksum}"
# Every key of this module: each process keeps copies, dropped when any of them changes.
# Shared: callers read the token, its client and its user, and never change them.
_near = NearCache("oauthgw:bearer:", shared=True)
_CLIENT_CHANGED_KEY = "oauthgw:bearer:client-changed:{pk}"
# A deleted token: its key answers "no such token" until the tombstone expires.
_TOMBSTONE = "revoked"
# Longer than any request takes between reading a client row and caching it.
_CLIENT_CHANGED_SECONDS = 30
_DELETE_BATCH = 1000


def token_checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _ttl() -> int:
    return int(gateway_settings.BEARER_CACHE_SECONDS)


def _token_key(checksum: str) -> str:
    return _TOKEN_KEY.format(checksum=checksum)


def _client_changed_key(pk) -> str:
    return _CLIENT_CHANGED_KEY.format(pk=pk)


def _token_from_db(checksum: str):
    return (
        get_access_token_model()
        .objects.select_related("application", "user", "user__resource_owner")
        .filter(token_checksum=checksum)
        .first()
    )


def _without_secrets(client):
    cached = copy.copy(client)
    for field in client._meta.concrete_fields:
        if "secret" in field.name:
            # A missing attribute is a deferred field: never pickled, loaded on access.
            cached.__dict__.pop(field.attname, None)
    return cached


def _remember(checksum: str, token) -> None:
    seconds = min(_ttl(), int((token.expires - timezone.now()).total_seconds()))
    if seconds <= 0 or token.application is None:
        return
    entry = copy.copy(token)
    entry.application = _without_secrets(token.application)
    key = _token_key(checksum)
    if shared_state.add(key, entry, timeout=seconds) and shared_state.get(_client_changed_key(token.application_id)):
        # The client changed while this request was reading it: the row read may be the old one.
        shared_state.delete_many([key])


def access_token_load(token: str):
    """The AccessToken row for a raw bearer token with its client and user, or None.

    Returns the row whatever its state: the caller checks expiry, scopes and
    whether the client is enabled, exactly as for a row read from the database.
    """
    checksum = token_checksum(token)
    if _ttl() <= 0:
        return _token_from_db(checksum)
    key = _token_key(checksum)
    access_token = _near.get(key)
    if access_token is MISS:
        with _near.filling(key) as keep:
            # With the shared cache down this reads the database, as with no cache at all.
            access_token = shared_state.get(key)
            if access_token == _TOMBSTONE:
                keep(_TOMBSTONE, _ttl())
            elif access_token is not None:
                keep(access_token, (access_token.expires - timezone.now()).total_seconds())
    if access_token == _TOMBSTONE:
        return None
    if access_token is None:
        access_token = _token_from_db(checksum)
        if access_token is not None:
            _remember(checksum, access_token)
    return access_token


# --- Invalidation ------------------------------------------------------------------


def _token_deleted(sender, instance, **kwargs) -> None:
    # An expired token is refused from its cached ``expires`` already; skipping it
    # keeps ``cleartokens`` from writing a tombstone per deleted row.
    if _ttl() <= 0 or not instance.token_checksum or instance.expires <= timezone.now():
        return
    key = _token_key(instance.token_checksum)
    shared_state.delete_many([key])
    transaction.on_commit(lambda: _bury(key), robust=True)


def _bury(key: str) -> None:
    shared_state.put(key, _TOMBSTONE, timeout=_ttl())


def _token_saved(sender, instance, created, **kwargs) -> None:
    if created or _ttl() <= 0 or not instance.token_checksum:
        return
    key = _token_key(instance.token_checksum)
    shared_state.delete_many([key])
    transaction.on_commit(lambda: shared_state.delete_many([key]), robust=True)


def _forget_client_tokens(pk) -> None:
    checksums = (
        get_access_token_model()
        .objects.filter(application_id=pk, expires__gt=timezone.now())
        .values_list("token_checksum", flat=True)
        .iterator(chunk_size=_DELETE_BATCH)
    )
    batch = []
    for checksum in checksums:
        batch.append(_token_key(checksum))
        if len(batch) == _DELETE_BATCH:
            shared_state.delete_many(batch)
            batch = []
    if batch:
        shared_state.delete_many(batch)


def _client_changed(sender, instance, created=False, **kwargs) -> None:
    if created or _ttl() <= 0:
        return
    pk = instance.pk
    _forget_client_tokens(pk)

    def after_commit() -> None:
        shared_state.put(_client_changed_key(pk), True, timeout=_CLIENT_CHANGED_SECONDS)
        _forget_client_tokens(pk)

    transaction.on_commit(after_commit, robust=True)


def connect_receivers() -> None:
    # Deleting a client deletes its tokens, each of which buries its own entry.
    access_token_model = get_access_token_model()
    application_model = get_application_model()
    post_delete.connect(_token_deleted, sender=access_token_model, dispatch_uid="oauthgw.bearer_cache.token_deleted")
    post_save.connect(_token_saved, sender=access_token_model, dispatch_uid="oauthgw.bearer_cache.token_saved")
    post_save.connect(_client_changed, sender=application_model, dispatch_uid="oauthgw.bearer_cache.client_saved")
