"""Clients: registration, the one-time secret, rotation, enabling and revoking."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Q, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext
from oauth2_provider.models import get_access_token_model
from oauth2_provider.settings import oauth2_settings

from oauthgw import grants
from oauthgw.admin.fields import SpaceSeparatedMultipleChoiceField, WriteOnlySecretField
from oauthgw.clients import (
    client_secret_generate,
    client_secret_rotate,
    client_secret_validate,
    client_set_enabled,
)
from oauthgw.hashers import MIN_CUSTOM_SECRET_LENGTH
from oauthgw.models import Application, AuditEvent
from oauthgw.outcomes import ISSUED
from oauthgw.revocation import NOTHING, tokens_revoke_for_client

SECRET_TEMPLATE = "admin/oauthgw/application/secret.html"
ROTATE_TEMPLATE = "admin/oauthgw/application/rotate_secret.html"

GRACE_CHOICES = (
    (0, "None: the old secret stops working now"),
    (3600, "1 hour"),
    (24 * 3600, "24 hours"),
    (7 * 24 * 3600, "7 days"),
    (30 * 24 * 3600, "30 days"),
)


def _scope_choices():
    return sorted(oauth2_settings.SCOPES.items())


def _custom_secret_field() -> forms.CharField:
    return WriteOnlySecretField(
        label="Custom secret",
        help_text=f"Leave empty to generate a long random secret (recommended). "
        f"A secret you type must have at least {MIN_CUSTOM_SECRET_LENGTH} characters.",
    )


class ApplicationForm(forms.ModelForm):
    grant_types = SpaceSeparatedMultipleChoiceField(choices=grants.CHOICES)
    allowed_scopes = SpaceSeparatedMultipleChoiceField(choices=_scope_choices, required=False)
    default_scopes = SpaceSeparatedMultipleChoiceField(choices=_scope_choices, required=False)

    class Meta:
        model = Application
        fields = [
            "name",
            "enabled",
            "grant_types",
            "allowed_scopes",
            "default_scopes",
            "can_introspect",
            "access_token_lifetime",
            "refresh_token_lifetime",
            "authorization_server",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        server = self.fields.get("authorization_server")
        if server is not None:
            server.empty_label = "default (OAUTHGW_UPSTREAM_* settings)"


class CustomSecretMixin(forms.Form):
    """An optional secret typed by an admin, refused unless it is safe with the fast hasher."""

    custom_secret = _custom_secret_field()

    def clean_custom_secret(self) -> str:
        secret = self.cleaned_data.get("custom_secret") or ""
        if secret:
            client_secret_validate(secret)
        return secret


class ApplicationAddForm(CustomSecretMixin, ApplicationForm):
    pass


class RotateSecretForm(CustomSecretMixin, forms.Form):
    grace = forms.TypedChoiceField(
        label="Keep the old secret valid for",
        choices=GRACE_CHOICES,
        coerce=int,
        initial=0,
        help_text="Both secrets work until then, so the client's deployments can switch without downtime.",
    )


class GrantTypeFilter(admin.SimpleListFilter):
    title = "grant type"
    parameter_name = "grant_type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in grants.SERVED]

    def queryset(self, request, queryset):
        value = self.value()
        if value not in grants.SERVED:
            return queryset
        # grant_types is a space-separated list: match a whole word.
        return queryset.filter(
            Q(grant_types=value)
            | Q(grant_types__startswith=f"{value} ")
            | Q(grant_types__endswith=f" {value}")
            | Q(grant_types__contains=f" {value} ")
        )


def _one_time_secret_response(request, admin_obj, client, secret: str, *, rotated: bool) -> TemplateResponse:
    """The page that shows a new secret, once: rendered directly, never put in a message.

    Messages live in the session or a cookie; this response is the only place the
    raw secret ever goes, and no cache may keep it.
    """
    context = {
        **admin_obj.admin_site.each_context(request),
        "title": "Client secret rotated" if rotated else "Client registered",
        "opts": admin_obj.model._meta,
        "client": client,
        "secret": secret,
        "rotated": rotated,
        "change_url": reverse("admin:oauthgw_application_change", args=[client.pk]),
        "changelist_url": reverse("admin:oauthgw_application_changelist"),
    }
    response = TemplateResponse(request, SECRET_TEMPLATE, context)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class ApplicationAdmin(admin.ModelAdmin):
    form = ApplicationForm
    add_form = ApplicationAddForm
    change_form_template = "admin/oauthgw/application/change_form.html"
    list_display = (
        "name",
        "client_id",
        "enabled",
        "grant_types",
        "scopes",
        "server",
        "created",
        "last_used",
    )
    list_display_links = ("name", "client_id")
    list_filter = ("enabled", GrantTypeFilter, "can_introspect", "authorization_server", "created")
    search_fields = ("name", "client_id")
    list_select_related = ("authorization_server",)
    readonly_fields = ("client_id", "created", "updated", "last_used", "secret_status", "live_tokens")
    actions = ("enable_clients", "disable_clients", "rotate_secret", "revoke_client_tokens")
    fieldsets = (
        (None, {"fields": ("name", "client_id", "enabled")}),
        ("What it may do", {"fields": ("grant_types", "allowed_scopes", "default_scopes", "can_introspect")}),
        ("Tokens", {"fields": ("access_token_lifetime", "refresh_token_lifetime", "live_tokens")}),
        ("Resource owners", {"fields": ("authorization_server",)}),
        ("Secret and history", {"fields": ("secret_status", "created", "updated", "last_used")}),
    )
    add_fieldsets = (
        (None, {"fields": ("name", "enabled")}),
        ("What it may do", {"fields": ("grant_types", "allowed_scopes", "default_scopes", "can_introspect")}),
        ("Tokens", {"fields": ("access_token_lifetime", "refresh_token_lifetime")}),
        ("Resource owners", {"fields": ("authorization_server",)}),
        ("Secret", {"fields": ("custom_secret",)}),
    )

    # --- Reading ---------------------------------------------------------------

    def get_queryset(self, request):
        last_issued = AuditEvent.objects.filter(client_id=OuterRef("client_id"), outcome=ISSUED).order_by("-time")
        return super().get_queryset(request).annotate(last_used_at=Subquery(last_issued.values("time")[:1]))

    @admin.display(description="server", ordering="authorization_server__name")
    def server(self, obj):
        return obj.authorization_server.name if obj.authorization_server_id else "default"

    @admin.display(description="scopes", ordering="allowed_scopes")
    def scopes(self, obj):
        return obj.allowed_scopes

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj):
        # The last token issued to it, as long as the audit trail remembers.
        return getattr(obj, "last_used_at", None) or "—"

    @admin.display(description="secret")
    def secret_status(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        rotated = f"rotated {obj.secret_rotated:%Y-%m-%d %H:%M} UTC" if obj.secret_rotated else "never rotated"
        previous = obj.previous_secret_expires
        if previous is not None and previous > timezone.now():
            return f"Stored hashed; {rotated}; the previous secret is accepted until {previous:%Y-%m-%d %H:%M} UTC."
        return f"Stored hashed; {rotated}."

    @admin.display(description="live tokens")
    def live_tokens(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        count = get_access_token_model().objects.filter(application=obj).count()
        url = reverse("admin:oauth2_provider_accesstoken_changelist") + f"?application__id__exact={obj.pk}"
        return format_html('<a href="{}">{} access tokens</a>', url, count)

    # --- Forms -------------------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        secret = form.cleaned_data.get("custom_secret") or client_secret_generate()
        obj.client_secret = secret  # hashed by the field on save
        super().save_model(request, obj, form, change)
        obj.one_time_secret = secret

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(obj, "one_time_secret", None)
        if secret is None or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return _one_time_secret_response(request, self, obj, secret, rotated=False)

    # --- Rotation ----------------------------------------------------------------

    def get_urls(self):
        rotate = path(
            "<path:object_id>/rotate-secret/",
            self.admin_site.admin_view(self.rotate_secret_view),
            name="oauthgw_application_rotate_secret",
        )
        return [rotate, *super().get_urls()]

    def rotate_secret_view(self, request, object_id):
        client = get_object_or_404(Application, pk=object_id)
        if not self.has_change_permission(request, client):
            raise PermissionDenied
        form = RotateSecretForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            grace = timedelta(seconds=form.cleaned_data["grace"])
            try:
                client, secret = client_secret_rotate(
                    client=client, grace=grace, secret=form.cleaned_data["custom_secret"] or None
                )
            except ValidationError as exc:
                form.add_error("custom_secret", exc)
            else:
                message = "Rotated the client secret"
                if client.previous_secret_expires:
                    message += f"; the old one is accepted until {client.previous_secret_expires:%Y-%m-%d %H:%M} UTC"
                self.log_change(request, client, message + ".")
                return _one_time_secret_response(request, self, client, secret, rotated=True)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Rotate the secret of {client}",
            "opts": self.model._meta,
            "original": client,
            "form": form,
            "change_url": reverse("admin:oauthgw_application_change", args=[client.pk]),
        }
        return TemplateResponse(request, ROTATE_TEMPLATE, context)

    # --- Actions -----------------------------------------------------------------

    def _set_enabled(self, request, queryset, *, enabled: bool) -> None:
        changed = 0
        for client in queryset:
            if client_set_enabled(client=client, enabled=enabled):
                self.log_change(request, client, "Enabled." if enabled else "Disabled: tokens refused at once.")
                changed += 1
        verb = "Enabled" if enabled else "Disabled"
        self.message_user(request, ngettext(f"{verb} %d client.", f"{verb} %d clients.", changed) % changed)

    @admin.action(description="Enable selected clients", permissions=["change"])
    def enable_clients(self, request, queryset):
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable selected clients (their tokens stop working at once)", permissions=["change"])
    def disable_clients(self, request, queryset):
        self._set_enabled(request, queryset, enabled=False)

    @admin.action(description="Rotate the secret of the selected client", permissions=["change"])
    def rotate_secret(self, request, queryset):
        clients = list(queryset[:2])
        if len(clients) != 1:
            self.message_user(request, "Select exactly one client to rotate its secret.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:oauthgw_application_rotate_secret", args=[clients[0].pk]))

    @admin.action(description="Revoke all tokens of selected clients", permissions=["change"])
    def revoke_client_tokens(self, request, queryset):
        revoked = NOTHING
        for client in queryset:
            count = tokens_revoke_for_client(client=client)
            self.log_change(
                request,
                client,
                f"Revoked all tokens: {count.access_tokens} access, {count.refresh_tokens} refresh.",
            )
            revoked += count
        self.message_user(
            request, f"Revoked {revoked.access_tokens} access and {revoked.refresh_tokens} refresh tokens."
        )
