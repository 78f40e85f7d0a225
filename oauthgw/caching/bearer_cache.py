"""Validated access tokens in Redis: with it, a bearer check costs one cache read, no SQL.

Only with Redis, which every process and instance reads and invalidates alike.
Without it (the embedded default) every check reads the token row with its
client and resource owner, one indexed query: a per-process copy could not be
told about a revocation made by another process.

With Redis:

- an entry holds the token row with its client and resource owner, and the
  thumbprint of the DPoP key it is bound to, filled with ``add`` on a miss;
- deleting a token (revocation, replay of a refresh token, a deleted user, a
  disabled client) turns its entry into a tombstone once the deletion commits,
  so a request that read the row just before the deletion cannot put it back;
- a client disabled outside the product's interfaces (a queryset update, SQL)
  sends no signal: every process re-reads the set of disabled clients at most
  ``DISABLED_CLIENTS_SECONDS`` apart and reads the row again for an entry of one
  of them, so such a client's tokens stop working within that bound;
- expiry is checked on every use against the cached ``expires`` (the toolkit's
  ``is_valid``), and no entry outlives its token.

Entries are pickled model instances whose secret fields (the client secret's
hashes) are deferred, so no secret hash is ever written to the cache.
"""

import copy
import functools
import logging
import threading
import time

from django.contrib.auth import get_user_model
from django.db import connections, router, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model

from oauthgw.caching import joined_rows, shared_state
from oauthgw.caching.near_cache import MISS, NearCache
from oauthgw.conf import gateway_settings
from oauthgw.credentials import token_checksum
from oauthgw.models import DPoPBinding

logger = logging.getLogger(__name__)

_TOKEN_KEY = "oauthgw:bearer:v2:{checksum}"
# Every key of this module: each process keeps copies, dropped when any of them changes.
# Shared: callers read the token, its client and its user, and never change them.
_near = NearCache("oauthgw:bearer:", shared=True)
# A deleted token: its key answers "no such token" until the tombstone expires.
_TOMBSTONE = "revoked"
# The attribute of a token row that holds its DPoP binding's thumbprint ("": none).
_JKT = "dpop_jkt"
# How stale a process's view of the disabled clients may be.
DISABLED_CLIENTS_SECONDS = 1.0


def _ttl() -> int:
    if not shared_state.uses_redis():
        return 0
    return int(gateway_settings.BEARER_CACHE_SECONDS)


def _token_key(checksum: str) -> str:
    return _TOKEN_KEY.format(checksum=checksum)


@functools.lru_cache(maxsize=64)
def _token_select(connection) -> tuple[str, list[joined_rows.Table]]:
    """The SQL of ``_token_from_db`` and its tables: token, client, user, resource owner, DPoP binding.

    Per connection: each thread has its own, and converters are bound to its operations.
    """
    quote = connection.ops.quote_name
    token_model, client_model, user_model = get_access_token_model(), get_application_model(), get_user_model()
    owner_model = user_model._meta.get_field("resource_owner").related_model
    tables, columns = [], []
    models = ((token_model, "t"), (client_model, "a"), (user_model, "u"), (owner_model, "o"), (DPoPBinding, "b"))
    for model, alias in models:
        table, selected = joined_rows.table_columns(connection, model, alias)
        tables.append(table)
        columns += selected

    def table(model) -> str:
        return quote(model._meta.db_table)

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    def pk(model) -> str:
        return quote(model._meta.pk.column)

    # Only identifiers from the models' metadata are interpolated; the checksum is a parameter.
    sql = (
        f"SELECT {', '.join(columns)} FROM {table(token_model)} t "  # noqa: S608
        f"LEFT JOIN {table(client_model)} a ON a.{pk(client_model)} = t.{column(token_model, 'application')} "
        f"LEFT JOIN {table(user_model)} u ON u.{pk(user_model)} = t.{column(token_model, 'user')} "
        f"LEFT JOIN {table(owner_model)} o ON o.{column(owner_model, 'user')} = u.{pk(user_model)} "
        f"LEFT JOIN {table(DPoPBinding)} b ON b.{column(DPoPBinding, 'access_token')} = t.{pk(token_model)} "
        f"WHERE t.{column(token_model, 'token_checksum')} = %s"
    )
    return sql, tables


def _token_from_db(checksum: str):
    """The token row with its client, user and resource owner, as ``select_related`` of the four would give,
    and the thumbprint of the DPoP key it is bound to (``bound_jkt``).

    One statement built once per database (``joined_rows``): the ORM's query
    compilation cost about two thirds of a database-backed bearer check (the
    embedded default reads it on every call).
    """
    token_model = get_access_token_model()
    database = router.db_for_read(token_model)
    sql, tables = _token_select(connections[database])
    instances = joined_rows.read_joined_row(database, sql, [checksum], tables)
    if instances is None:
        return None
    token, client, user, owner, binding = instances
    # A plain attribute, not the ORM's cache of the relation: a cache entry holds no
    # class the previous release lacks, whose processes read the same entries.
    token.__dict__[_JKT] = binding.jkt if binding is not None else ""
    token_model._meta.get_field("application").set_cached_value(token, client)
    token_model._meta.get_field("user").set_cached_value(token, user)
    if user is not None:
        # Cached even when absent, as select_related does: no query when it is looked up.
        type(user)._meta.get_field("resource_owner").set_cached_value(user, owner)
        if owner is not None:
            type(owner)._meta.get_field("user").set_cached_value(owner, user)
    return token


def bound_jkt(access_token) -> str | None:
    """The thumbprint of the DPoP key ``access_token`` is bound to (RFC 9449 section 6); None for a bearer token.

    Read with the row by ``access_token_load``; a row read otherwise, or an entry
    the previous release cached, costs one more query.
    """
    jkt = access_token.__dict__.get(_JKT)
    if jkt is None:
        jkt = DPoPBinding.objects.filter(access_token_id=access_token.pk).values_list("jkt", flat=True).first()
    return jkt or None


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
    shared_state.add(_token_key(checksum), entry, timeout=seconds)


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
    if access_token is not None and access_token.application_id in _disabled_clients.ids():
        # Disabled after the entry was made, maybe behind the signals' back: the row decides.
        return _token_from_db(checksum)
    if access_token is None:
        access_token = _token_from_db(checksum)
        if access_token is not None:
            _remember(checksum, access_token)
    return access_token


class _DisabledClients:
    """The ids of disabled clients as this process last read them, at most a second ago."""

    def __init__(self) -> None:
        self._ids: frozenset = frozenset()
        self._read_at = -DISABLED_CLIENTS_SECONDS
        self._lock = threading.Lock()

    def ids(self) -> frozenset:
        if time.monotonic() - self._read_at < DISABLED_CLIENTS_SECONDS:
            return self._ids
        with self._lock:
            if time.monotonic() - self._read_at >= DISABLED_CLIENTS_SECONDS:
                query = get_application_model().objects.filter(enabled=False).values_list("pk", flat=True)
                self._ids = frozenset(query)
                self._read_at = time.monotonic()
        return self._ids


_disabled_clients = _DisabledClients()


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


def connect_receivers() -> None:
    # Deleting a client deletes its tokens, each of which buries its own entry.
    access_token_model = get_access_token_model()
    post_delete.connect(_token_deleted, sender=access_token_model, dispatch_uid="oauthgw.bearer_cache.token_deleted")
    post_save.connect(_token_saved, sender=access_token_model, dispatch_uid="oauthgw.bearer_cache.token_saved")
