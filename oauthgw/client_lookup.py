"""The client of a token request, read from the database on every request.

The token endpoint must never issue a token to a client the database says is
disabled, however it was disabled (the admin, a management command, a queryset
update or plain SQL), so the row is read, not copied: one indexed query. Within
one request the row is read once and reused.
"""

from oauthgw.models import Application


def client_load(client_id: str) -> Application | None:
    """The client with this ``client_id`` (enabled or not), or None."""
    if not client_id or "\x00" in client_id:
        # No client id has a NUL, and PostgreSQL would refuse the query (a 500).
        return None
    return Application.objects.select_related("authorization_server").filter(client_id=client_id).first()


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
