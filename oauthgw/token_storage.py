"""Token rows written with as few statements as the rotation of a refresh token allows.

The toolkit retires a rotated refresh token with ``RefreshToken.revoke()``: in a
savepoint it locks and re-reads the row, reads its access token, lets Django's
deletion collector null the refresh token's pointer to it and delete it, then
saves every column of the refresh token again: eight statements. Here the caller
already holds the row's lock and its access token (``oauthgw.refresh_rotation``),
so retiring it is one UPDATE and one DELETE, with the same end state and the same
delete signals (the bearer cache listens to them).
"""

from django.db import connections, router
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone
from oauth2_provider.models import AbstractAccessToken, AbstractRefreshToken


def refresh_token_retire(*, refresh_token: AbstractRefreshToken) -> None:
    """Revoke ``refresh_token`` and delete its access token.

    The caller holds the row's lock in the current transaction and has read
    ``refresh_token.access_token``; the instance is updated to match the row.
    """
    access_token = refresh_token.access_token
    now = timezone.now()
    type(refresh_token).objects.filter(pk=refresh_token.pk).update(revoked=now, updated=now, access_token=None)
    refresh_token.revoked = refresh_token.updated = now
    refresh_token.access_token = None
    if access_token is not None:
        _access_token_delete(access_token)


def _access_token_delete(access_token: AbstractAccessToken) -> None:
    # Model.delete() would first null the refresh token's pointer to this row,
    # which the UPDATE above has done; a refresh token is the only row that
    # refers to an access token (tests/oauthgw/test_token_storage.py checks).
    model = type(access_token)
    using = router.db_for_write(model, instance=access_token)
    connection = connections[using]
    pre_delete.send(sender=model, instance=access_token, using=using, origin=access_token)
    quote = connection.ops.quote_name
    # Identifiers from the model, quoted; the value is a parameter.
    sql = f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [access_token.pk])
        deleted = cursor.rowcount
    if deleted:
        # Zero rows: whoever deleted the row first sent the signal.
        post_delete.send(sender=model, instance=access_token, using=using, origin=access_token)
