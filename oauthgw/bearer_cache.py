"""Validated access tokens in the shared cache, so a bearer check costs no SQL query.

Every gateway instance reads and invalidates the same cache (Redis in production),
so a revocation, a disabled client or an expired token takes effect at once on
all of them:

- a token's entry holds the token row with its resource owner, never the client;
  the client is cached under its own key and replaced when the client is saved,
  so ``enabled`` is always the current one;
- deleting a token (revocation, replay of a refresh token, a deleted user) turns
  its entry into a tombstone once the deletion commits; entries are filled with
  ``add``, so a request that read the row just before the deletion cannot put it
  back;
- expiry is checked on every use against the cached ``expires`` (the toolkit's
  ``is_valid``), and no entry outlives its token.

Entries are pickled model instances; the client's secret hash is deferred, so it
is never written to the cache.
"""

import copy
import hashlib
import logging

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from oauthgw.conf import gateway_settings

logger = logging.getLogger(__name__)

_TOKEN_KEY = "oauthgw:bearer:v1:{checksum}"
_CLIENT_KEY = "oauthgw:client:v1:{pk}"
# A deleted token: its key answers "no such token" until the tombstone expires.
_TOMBSTONE = "revoked"


def token_checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _ttl() -> int:
    return int(gateway_settings.BEARER_CACHE_SECONDS)


def _token_key(checksum: str) -> str:
    return _TOKEN_KEY.format(checksum=checksum)


def _client_key(pk) -> str:
    return _CLIENT_KEY.format(pk=pk)


def _client_from_db(pk):
    model = get_application_model()
    # Secret hashes stay in the database: deferred fields are not pickled.
    secrets = [field.name for field in model._meta.concrete_fields if "secret" in field.name]
    return model.objects.defer(*secrets).filter(pk=pk).first()


def _client(pk):
    client = cache.get(_client_key(pk))
    if client is None:
        client = _client_from_db(pk)
        if client is not None:
            cache.add(_client_key(pk), client, _ttl())
    return client


def _token_from_db(checksum: str):
    return (
        get_access_token_model()
        .objects.select_related("user", "user__resource_owner")
        .filter(token_checksum=checksum)
        .first()
    )


def _remember(checksum: str, token) -> None:
    seconds = min(_ttl(), int((token.expires - timezone.now()).total_seconds()))
    if seconds <= 0:
        return
    entry = copy.copy(token)
    entry._state.fields_cache.pop("application", None)
    cache.add(_token_key(checksum), entry, seconds)


def access_token_load(token: str):
    """The AccessToken row for a raw bearer token with its client and user, or None.

    Returns the row whatever its state: the caller checks expiry, scopes and
    whether the client is enabled, exactly as for a row read from the database.
    """
    checksum = token_checksum(token)
    if _ttl() <= 0:
        return (
            get_access_token_model()
            .objects.select_related("application", "user", "user__resource_owner")
            .filter(token_checksum=checksum)
            .first()
        )
    access_token = cache.get(_token_key(checksum))
    if access_token == _TOMBSTONE:
        return None
    if access_token is None:
        access_token = _token_from_db(checksum)
        if access_token is None:
            return None
        if access_token.application_id is not None:
            _remember(checksum, access_token)
    if access_token.application_id is not None:
        access_token.application = _client(access_token.application_id)
    return access_token


# --- Invalidation ------------------------------------------------------------------


def _token_deleted(sender, instance, **kwargs) -> None:
    # An expired token is refused from its cached ``expires`` already; skipping it
    # keeps ``cleartokens`` from writing a tombstone per deleted row.
    if _ttl() <= 0 or not instance.token_checksum or instance.expires <= timezone.now():
        return
    key = _token_key(instance.token_checksum)
    cache.delete(key)
    transaction.on_commit(lambda: _bury(key), robust=True)


def _bury(key: str) -> None:
    cache.set(key, _TOMBSTONE, _ttl())


def _token_saved(sender, instance, created, **kwargs) -> None:
    if created or _ttl() <= 0 or not instance.token_checksum:
        return
    key = _token_key(instance.token_checksum)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key), robust=True)


def _client_changed(sender, instance, **kwargs) -> None:
    if _ttl() <= 0:
        return
    key = _client_key(instance.pk)
    cache.delete(key)
    # Written once the change is visible, with ``set``: it replaces whatever a
    # request that read the old row may have added in between.
    transaction.on_commit(lambda: _refresh_client(instance.pk), robust=True)


def _refresh_client(pk) -> None:
    client = _client_from_db(pk)
    if client is None:
        cache.delete(_client_key(pk))
    else:
        cache.set(_client_key(pk), client, _ttl())


def connect_receivers() -> None:
    access_token_model = get_access_token_model()
    application_model = get_application_model()
    post_delete.connect(_token_deleted, sender=access_token_model, dispatch_uid="oauthgw.bearer_cache.token_deleted")
    post_save.connect(_token_saved, sender=access_token_model, dispatch_uid="oauthgw.bearer_cache.token_saved")
    post_save.connect(_client_changed, sender=application_model, dispatch_uid="oauthgw.bearer_cache.client_saved")
    post_delete.connect(_client_changed, sender=application_model, dispatch_uid="oauthgw.bearer_cache.client_deleted")
