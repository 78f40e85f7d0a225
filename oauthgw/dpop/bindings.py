"""What a DPoP-bound token is bound to, kept server-side: written with the token, read with it.

An access token issued with a valid proof is bound to the proof's key: a
``DPoPBinding`` row holds the key's thumbprint (``jkt``, RFC 9449 section 6),
whatever the token's format (a JWT carries it as ``cnf.jkt`` too, for APIs that
verify it alone). ``dpop_binding_save`` is the only writer; the bearer check reads
the binding in the same statement as the token (``oauthgw.caching.bearer_cache``).

A public client's refresh token is bound to the key of the access token issued
with it (section 5): one proof bound both, and the gateway never issues a public
client a bound refresh token with an unbound access token. So a refresh token
needs no row of its own, and a rotation that binds the new access token binds the
new refresh token with it. A live refresh token whose access token is gone (deleted
out of band) cannot say what it was bound to, and is refused (``UNKNOWN``).
"""

import functools
from dataclasses import dataclass

from django.db import connections, router, transaction
from django.db.models import Exists, OuterRef
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.credentials import token_checksum
from oauthgw.models import DPoPBinding


@functools.cache
def _insert_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    meta = DPoPBinding._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in ("access_token", "jkt"))
    # Identifiers from the model, quoted; both values are parameters.
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES (%s, %s)"  # noqa: S608


def dpop_binding_save(*, access_token_id: int, jkt: str) -> None:
    """Bind the access token ``access_token_id``, just created, to the key whose thumbprint is ``jkt``.

    One INSERT with SQL rather than the ORM: it runs with every DPoP-bound token.
    Call it where the token's row is written, in the same transaction when there
    is one, and before the token is handed out.
    """
    alias = router.db_for_write(DPoPBinding)
    connection = connections[alias]
    # As the ORM does: inside the grant's transaction, a failed INSERT marks it for rollback.
    with transaction.mark_for_rollback_on_error(alias), connection.cursor() as cursor:
        cursor.execute(_insert_sql(alias), [access_token_id, jkt])


@dataclass(frozen=True)
class RefreshTokenBinding:
    """What a live refresh token is bound to: ``jkt``, or None for no key; ``found``: the token is live."""

    found: bool
    jkt: str | None = None
    # Live, but its access token is gone: what it was bound to cannot be told.
    unknown: bool = False


NOT_LIVE = RefreshTokenBinding(found=False)
UNKNOWN = RefreshTokenBinding(found=True, unknown=True)


@functools.cache
def _refresh_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    refresh, binding = get_refresh_token_model()._meta, DPoPBinding._meta

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    access_token = column(refresh, "access_token")
    # Only identifiers from the models' metadata are interpolated; the checksum is a parameter.
    return (
        f"SELECT r.{access_token}, b.{column(binding, 'jkt')} "  # noqa: S608
        f"FROM {quote(refresh.db_table)} r "
        f"LEFT JOIN {quote(binding.db_table)} b ON b.{column(binding, 'access_token')} = r.{access_token} "
        f"WHERE r.{column(refresh, 'token_checksum')} = %s AND r.{column(refresh, 'revoked')} IS NULL"
    )


def refresh_token_binding(*, token: str) -> RefreshTokenBinding:
    """The key the live refresh token ``token`` is bound to through its access token: one small query."""
    alias = router.db_for_read(get_refresh_token_model())
    with connections[alias].cursor() as cursor:
        cursor.execute(_refresh_sql(alias), [token_checksum(token)])
        row = cursor.fetchone()
    if row is None:
        return NOT_LIVE
    access_token_id, jkt = row
    if access_token_id is None:
        return UNKNOWN
    return RefreshTokenBinding(found=True, jkt=jkt)


def dpop_bindings_purge(*, batch_size: int = 5000) -> int:
    """Delete the bindings whose access token no longer exists (deleted without the ORM), in batches."""
    tokens = get_access_token_model().objects.filter(pk=OuterRef("access_token_id"))
    orphans = DPoPBinding.objects.filter(~Exists(tokens))
    deleted = 0
    # In batches (short transactions): on SQLite every delete holds the write lock token requests wait for.
    while batch := list(orphans.values_list("pk", flat=True)[:batch_size]):
        count, _ = DPoPBinding.objects.filter(pk__in=batch).delete()
        deleted += count
    return deleted
