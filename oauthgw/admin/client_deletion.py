"""Deleting clients from the admin: a page that says what goes and what stays, then one transaction.

Django's own delete view and action list every related row and ask for the
delete permission of each related model's admin, which the token admins refuse
(a token is revoked, not deleted by hand): so a superuser could not delete a
client that ever had a token. Here the client's page and the list's action
show counts instead of rows, check the models' delete permissions themselves
(superusers have them all), and delete through ``client_delete``.
"""

from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import ngettext
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.admin.display import count_display
from oauthgw.issuing.client_deletion import NOTHING_HELD, ClientHoldings, client_delete, client_holdings
from oauthgw.models import Application, UpstreamSession

DELETE_TEMPLATE = "admin/oauthgw/application/delete_confirmation.html"
DELETE_SELECTED_TEMPLATE = "admin/oauthgw/application/delete_selected_confirmation.html"
ALREADY_DELETED_MESSAGE = "That client had already been deleted; nothing was changed."


@dataclass(frozen=True)
class Deletion:
    """What deleting some clients takes away: each client with its holdings, and the total."""

    clients: list[tuple[Application, ClientHoldings]]
    total: ClientHoldings

    @property
    def jwt_clients(self) -> list[Application]:
        return [client for client, _ in self.clients if client.issues_jwt]


def deletion_of(clients) -> Deletion:
    rows = [(client, client_holdings(client=client)) for client in clients]
    return Deletion(clients=rows, total=sum((held for _, held in rows), NOTHING_HELD))


def deleted_lines(held: ClientHoldings) -> list[str]:
    """What goes, one line per kind, as the confirmation page says it."""
    access = count_display(held.access_tokens, "live access token", "live access tokens")
    access += ": refused by the gateway's APIs and by introspection from the next call"
    if held.expired_access_tokens:
        access += f" (and {count_display(held.expired_access_tokens, 'expired one', 'expired ones')})"
    refresh = count_display(held.refresh_tokens, "usable refresh token", "usable refresh tokens")
    refresh += ": no more refreshes, people log in again"
    if held.revoked_refresh_tokens:
        revoked = count_display(held.revoked_refresh_tokens, "revoked one", "revoked ones")
        refresh += f" (and {revoked} kept to recognise a replay)"
    sessions = count_display(held.sessions, "session", "sessions")
    if held.upstream_refresh_tokens:
        kept = count_display(held.upstream_refresh_tokens, "refresh token", "refresh tokens")
        sessions += f", and the {kept} of the authorization server kept for them, encrypted"
    client = ngettext(
        "the client and its secret: a request with its credentials gets 401 invalid_client from the next one "
        "on, in every gateway process",
        "the clients and their secrets: a request with their credentials gets 401 invalid_client from the next "
        "one on, in every gateway process",
        held.clients,
    )
    return [client, access, refresh, sessions]


def kept_lines(held: ClientHoldings, *, names: str) -> list[str]:
    """What stays."""
    events = ngettext(
        "%(count)d audit event, which keeps showing the client id and the name (%(names)s) until "
        "purge_audit_events removes it with age",
        "%(count)d audit events, which keep showing the client id and the name (%(names)s) until "
        "purge_audit_events removes them with age",
        held.audit_events,
    ) % {"count": held.audit_events, "names": names}
    return [events, "the admin's history of the client, with this deletion"]


def deletion_summary(held: ClientHoldings) -> str:
    """The message after a deletion."""
    return (
        f"{count_display(held.access_tokens, 'live access token', 'live access tokens')}, "
        f"{count_display(held.refresh_tokens, 'usable refresh token', 'usable refresh tokens')} and "
        f"{count_display(held.sessions, 'session', 'sessions')} went with "
        + ngettext("it", "them", held.clients)
        + f"; {count_display(held.audit_events, 'audit event stays', 'audit events stay')}."
    )


# What a client's deletion takes with it, and so the delete permissions it needs.
def _taken_with(held: ClientHoldings) -> list:
    models = []
    if held.access_tokens or held.expired_access_tokens:
        models.append(get_access_token_model())
    if held.refresh_tokens or held.revoked_refresh_tokens:
        models.append(get_refresh_token_model())
    if held.sessions:
        models.append(UpstreamSession)
    return models


class _AlreadyDeleted(Exception):
    """A deletion confirmed twice (a reload, a double click): raised in the view's transaction, which rolls back."""


class ClientDeletionMixin:
    """The delete view, confirmation pages and action of ``ApplicationAdmin``."""

    delete_confirmation_template = DELETE_TEMPLATE

    def get_deleted_objects(self, objs, request):
        # Django's hook for both the delete view and the delete action: here the
        # first value is a ``Deletion`` (counts, not a tree of every token row).
        deletion = deletion_of(objs)
        lacking = [
            str(model._meta.verbose_name)
            for model in _taken_with(deletion.total)
            if not request.user.has_perm(f"{model._meta.app_label}.{get_permission_codename('delete', model._meta)}")
        ]
        return deletion, {}, lacking, []

    def render_delete_form(self, request, context):
        deletion = context["deleted_objects"]
        context.update(self._deletion_context(deletion))
        if not context["perms_lacking"]:
            context["title"] = "Delete a client"
        return super().render_delete_form(request, context)

    def _deletion_context(self, deletion: Deletion) -> dict:
        names = ", ".join(client.name for client, _ in deletion.clients)
        return {
            "deletion": deletion,
            "deleted_lines": deleted_lines(deletion.total),
            "kept_lines": kept_lines(deletion.total, names=names),
            "jwt_lifetime_note": bool(deletion.jwt_clients),
        }

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except _AlreadyDeleted:
            self.message_user(request, ALREADY_DELETED_MESSAGE, messages.WARNING)
            return HttpResponseRedirect(reverse("admin:oauthgw_application_changelist"))

    def delete_model(self, request, obj):
        held = client_delete(client=obj)
        if held is None:
            # Django logged the deletion already; the view's transaction takes it back.
            raise _AlreadyDeleted
        self.message_user(request, deletion_summary(held), messages.SUCCESS)

    def delete_queryset(self, request, queryset):
        # Django's own delete action is replaced by ``delete_clients``; this keeps
        # any other caller on the same path.
        for client in queryset:
            client_delete(client=client)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Replaced by delete_clients, which shows counts rather than every token.
        actions.pop("delete_selected", None)
        return actions

    @admin.action(
        description="Delete selected clients (with their tokens and sessions; the audit trail stays)",
        permissions=["delete"],
    )
    def delete_clients(self, request, queryset):
        clients = list(queryset)
        deletion, _, lacking, _ = self.get_deleted_objects(clients, request)
        if request.POST.get("post"):
            if lacking:
                raise PermissionDenied
            return self._delete_clients(request, clients)
        context = {
            **self.admin_site.each_context(request),
            "title": "Cannot delete clients" if lacking else "Delete clients?",
            "opts": self.opts,
            "perms_lacking": lacking,
            "clients": clients,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
            **self._deletion_context(deletion),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, DELETE_SELECTED_TEMPLATE, context)

    def _delete_clients(self, request, clients) -> None:
        deleted = NOTHING_HELD
        with transaction.atomic(using=router.db_for_write(Application)):
            for client in clients:
                held = client_delete(client=client)
                if held is not None:
                    # The instance keeps its primary key: client_delete deleted its own copy.
                    self.log_deletions(request, [client])
                    deleted += held
        if not deleted.clients:
            self.message_user(request, ALREADY_DELETED_MESSAGE, messages.WARNING)
            return
        self.message_user(
            request,
            ngettext("Deleted %d client: ", "Deleted %d clients: ", deleted.clients) % deleted.clients
            + deletion_summary(deleted),
            messages.SUCCESS,
        )
