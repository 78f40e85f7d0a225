"""The client of a token request, from process memory when it has not changed.

Every token, revocation and introspection request authenticates its client, and
the row lookup behind it was the largest single cost of a client_credentials
request. Each process keeps the rows it has read (``oauthgw.near_cache``, with
the client's authorization server) and drops them all as soon as any client or
authorization server is saved or deleted anywhere: that writes one key in Redis,
and Redis tells every process. Client changes are rare admin actions, so
dropping every row costs nothing worth a finer scheme, and a rename of a
``client_id`` cannot leave a copy behind under the old name.

Rows copied here stay in process memory: client-secret hashes never reach the
shared cache.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from oauthgw import shared_state
from oauthgw.models import Application, AuthorizationServer
from oauthgw.near_cache import MISS, NearCache

_CHANGED_KEY = "oauthgw:clients:changed"
_CHANGED_SECONDS = 3600
_near = NearCache("oauthgw:clients:", whole=True)
# A copy is re-read at least this often even if no change is announced (an
# announcement lost in a Redis outage).
_COPY_SECONDS = 60


def _client_from_db(client_id: str) -> Application | None:
    try:
        return Application.objects.select_related("authorization_server").filter(client_id=client_id).first()
    except ValueError:
        # PostgreSQL refuses a NUL byte in a string before running the query: no such client.
        return None


def client_load(client_id: str) -> Application | None:
    """The client with this ``client_id`` (enabled or not), or None."""
    client = _near.get(client_id)
    if client is not MISS:
        return client
    with _near.filling(client_id) as keep:
        client = _client_from_db(client_id)
        if client is not None:
            keep(client, _COPY_SECONDS)
    return client


class ClientLookupMixin:
    """Replaces the toolkit's ``_load_application`` (client metadata documents are off)."""

    def _load_application(self, client_id, request):
        client = request.client
        if isinstance(client, Application) and client.client_id == client_id and client.is_usable(request):
            return client
        request.client = None
        client = client_load(client_id)
        if client is None or not client.is_usable(request):
            return None
        request.client = client
        return client


def _announce_change() -> None:
    shared_state.put(_CHANGED_KEY, True, timeout=_CHANGED_SECONDS)


def _changed(sender, **kwargs) -> None:
    # At once, as the bearer cache does, and again once committed: a copy of the
    # old row read before the commit is then dropped wherever it is.
    _announce_change()
    transaction.on_commit(_announce_change, robust=True)


def connect_receivers() -> None:
    for model in (Application, AuthorizationServer):
        for signal, name in ((post_save, "saved"), (post_delete, "deleted")):
            signal.connect(_changed, sender=model, dispatch_uid=f"oauthgw.client_lookup.{model.__name__}.{name}")
