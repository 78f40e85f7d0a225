"""External authorization servers: the write-only client secret, test connection, breaker state."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import ngettext

from oauthgw.admin.display import wrappable
from oauthgw.admin.fields import WriteOnlySecretField
from oauthgw.conf import gateway_settings
from oauthgw.exceptions import AuthorizationServerSecretUnreadable
from oauthgw.models import AuthorizationServer
from oauthgw.upstream.breaker import breaker_state
from oauthgw.upstream.client import (
    UpstreamConfig,
    UpstreamProbe,
    probe_client_registration,
    probe_token_endpoint,
)
from oauthgw.upstream.servers import (
    authorization_server_set_enabled,
    default_authorization_server,
    upstream_config,
)

SECRET_NEW_HELP = "The gateway's own secret at this server, sent with every password check. Never shown again."
SECRET_KEPT_HELP = (
    "The gateway's own secret at this server. One is stored and never shown: leave the field empty to keep it, "
    "or type a new one to replace it (changing the token URL needs it typed again)."
)
SECRET_MISSING_HELP = "No secret is stored for this server: type the gateway's own secret there. Never shown again."

_PROBE_LEVELS = {"ok": messages.SUCCESS, "misconfigured": messages.WARNING, "unexpected": messages.WARNING}
_CLIENT_REFUSED = "reachable, but refuses the gateway's client id or secret"


def reverification_display(after: int | None, grace: int) -> str:
    """``never``, ``always``, ``after 300 s``; with the grace during an outage when there is one."""
    if after is None:
        return "never"
    text = "always" if after == 0 else f"after {after} s"
    return f"{text}, {grace} s grace during an outage" if grace else text


def _observed(probe: UpstreamProbe) -> str:
    answer = f"HTTP {probe.status}" + (f" {probe.error}" if probe.error else "")
    return f"{answer}, {probe.latency * 1000:.0f} ms"


def probe_message(name: str, liveness: UpstreamProbe, registration: UpstreamProbe | None) -> tuple[int, str]:
    """The admin message for one connection test: never a secret, only what was observed.

    ``liveness``: the breaker's probe (a grant type no server knows); ``registration``:
    an incomplete password grant with the gateway's client, asked only when the first
    found a token endpoint.
    """
    if not liveness.reachable:
        return messages.ERROR, f"{name}: unreachable after {liveness.latency * 1000:.0f} ms ({liveness.detail})."
    if liveness.verdict != "ok" or registration is None:
        verdicts = {
            "misconfigured": _CLIENT_REFUSED,
            "unexpected": "reachable, but does not answer like a token endpoint",
        }
        return _PROBE_LEVELS[
            liveness.verdict
        ], f"{name}: {verdicts[liveness.verdict]} ({_observed(liveness)}): {liveness.detail}."
    reached = f"{name}: reachable, answers like an RFC 6749 token endpoint ({_observed(liveness)})"
    if not registration.reachable:
        return messages.WARNING, (
            f"{reached}, but a password grant with the gateway's client got no answer "
            f"({registration.detail}): it may answer failed logins slowly."
        )
    if registration.verdict == "misconfigured":
        return messages.WARNING, f"{name}: {_CLIENT_REFUSED} ({_observed(registration)}): {registration.detail}."
    if registration.verdict == "unexpected":
        return messages.WARNING, (
            f"{reached}, but a password grant with the gateway's client got an answer a token endpoint "
            f"would not give ({_observed(registration)}): {registration.detail}."
        )
    caveat = "" if registration.error else "; it names no error, so a wrong client secret would look the same"
    return messages.SUCCESS, f"{reached}, and takes the gateway's client ({_observed(registration)}{caveat})."


class AuthorizationServerForm(forms.ModelForm):
    token_url = forms.URLField(
        max_length=500, assume_scheme="https", help_text=AuthorizationServer._meta.get_field("token_url").help_text
    )
    client_secret = WriteOnlySecretField(max_length=255, label="Client secret")

    class Meta:
        model = AuthorizationServer
        fields = [
            "name",
            "token_url",
            "client_id",
            "client_secret",
            "scope",
            "timeout",
            "enabled",
            "reverify",
            "reverify_interval",
            "reverify_grace",
        ]
        help_texts = {
            "reverify": "Whether a refresh first asks this server, with the refresh token it issued at login, whether "
            "it still vouches for the resource owner: a rejection revokes the session at once, an outage answers "
            "503. A login whose answer carried no refresh token can then refresh only until the server's own "
            "token would expire (its expires_in), else for the interval, else (always) not at all.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["client_secret"]
        # The help text says what an empty field does for this server: true in every case.
        # (An empty field with none stored is refused by the model's clean().)
        if self.instance.encrypted_client_secret:
            field.help_text = SECRET_KEPT_HELP
        else:
            field.help_text = SECRET_NEW_HELP if self.instance.pk is None else SECRET_MISSING_HELP

    def clean(self):
        cleaned_data = super().clean()
        # Empty keeps the stored ciphertext as it is: the stored secret is never
        # decrypted here, so a server whose key was lost can still be edited.
        if cleaned_data.get("client_secret"):
            self.instance.client_secret = cleaned_data["client_secret"]
        return cleaned_data


class AuthorizationServerAdmin(admin.ModelAdmin):
    form = AuthorizationServerForm
    change_list_template = "admin/oauthgw/authorizationserver/change_list.html"
    change_form_template = "admin/oauthgw/authorizationserver/change_form.html"
    list_display = (
        "name",
        "token_endpoint",
        "client_id",
        "enabled",
        "timeout",
        "reverification",
        "circuit",
        "client_count",
    )
    # No filter: a deployment has a handful of servers, and the filter's column is
    # what the list needs to fit a 1366-pixel screen with the navigation open.
    search_fields = ("name", "token_url")
    actions = ("test_connection", "enable_servers", "disable_servers")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(client_total=Count("clients"))

    def get_readonly_fields(self, request, obj=None):
        # Resource owners record the server by name: renaming would orphan them.
        return ("name", "created", "updated") if obj is not None else ()

    @admin.display(description="token URL", ordering="token_url")
    def token_endpoint(self, obj):
        return wrappable(obj.token_url)

    @admin.display(description="re-verify at refresh", ordering="reverify")
    def reverification(self, obj):
        return reverification_display(obj.reverify_after, obj.reverify_grace)

    @admin.display(description="circuit breaker")
    def circuit(self, obj):
        return breaker_state(obj.name)

    @admin.display(description="clients", ordering="client_total")
    def client_count(self, obj):
        return obj.client_total

    def changelist_view(self, request, extra_context=None):
        default = default_authorization_server()
        extra_context = {
            **(extra_context or {}),
            "default_server": default,
            "default_circuit": breaker_state(default.name),
            "default_reverification": reverification_display(default.reverify_after, default.reverify_grace),
            "default_has_secret": bool(default.client_secret),
            "default_test_url": reverse("admin:oauthgw_authorizationserver_test_default"),
        }
        return super().changelist_view(request, extra_context)

    # --- Test connection -----------------------------------------------------------

    def get_urls(self):
        urls = [
            path(
                "default/test-connection/",
                self.admin_site.admin_view(self.test_default_view),
                name="oauthgw_authorizationserver_test_default",
            ),
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="oauthgw_authorizationserver_test",
            ),
        ]
        return [*urls, *super().get_urls()]

    def _probe(self, request, name: str, config: UpstreamConfig) -> None:
        concurrency = gateway_settings.UPSTREAM_MAX_CONCURRENCY
        liveness = probe_token_endpoint(config, max_concurrency=concurrency)
        registration = None
        if liveness.verdict == "ok":
            registration = probe_client_registration(config, max_concurrency=concurrency)
        level, text = probe_message(name, liveness, registration)
        self.message_user(request, f"{text} Circuit breaker: {breaker_state(name)}.", level)

    def _probe_server(self, request, server: AuthorizationServer) -> None:
        try:
            config = upstream_config(server)
        except AuthorizationServerSecretUnreadable:
            self.message_user(
                request,
                f"{server.name}: its stored client secret cannot be decrypted with OAUTHGW_ENCRYPTION_KEYS; "
                "enter it again.",
                messages.ERROR,
            )
            return
        self._probe(request, server.name, config)

    def test_default_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        self._probe(request, default_authorization_server().name, default_authorization_server())
        return HttpResponseRedirect(reverse("admin:oauthgw_authorizationserver_changelist"))

    def test_connection_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        server = get_object_or_404(AuthorizationServer, pk=object_id)
        if not self.has_view_permission(request, server):
            raise PermissionDenied
        self._probe_server(request, server)
        return HttpResponseRedirect(reverse("admin:oauthgw_authorizationserver_change", args=[server.pk]))

    @admin.action(description="Test connection of selected servers")
    def test_connection(self, request, queryset):
        for server in queryset:
            self._probe_server(request, server)

    # --- Enable / disable -------------------------------------------------------------

    def _set_enabled(self, request, queryset, *, enabled: bool) -> None:
        changed = 0
        for server in queryset:
            if not authorization_server_set_enabled(server=server, enabled=enabled):
                continue
            self.log_change(request, server, "Enabled." if enabled else "Disabled: its clients' logins get 503.")
            changed += 1
        verb = "Enabled" if enabled else "Disabled"
        self.message_user(request, ngettext(f"{verb} %d server.", f"{verb} %d servers.", changed) % changed)

    @admin.action(description="Enable selected servers", permissions=["change"])
    def enable_servers(self, request, queryset):
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable selected servers (their clients get 503)", permissions=["change"])
    def disable_servers(self, request, queryset):
        self._set_enabled(request, queryset, enabled=False)


admin.site.register(AuthorizationServer, AuthorizationServerAdmin)
