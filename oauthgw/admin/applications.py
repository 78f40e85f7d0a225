"""Clients: registration, the one-time secret, rotation, enabling and revoking."""

import json
from datetime import UTC, timedelta

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import router, transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext
from oauth2_provider.models import get_access_token_model

from oauthgw import grants
from oauthgw.admin.application_forms import (
    ADD_PURPOSE,
    ApplicationAddForm,
    ApplicationForm,
    RotateSecretForm,
    rotate_purpose,
)
from oauthgw.admin.client_deletion import ClientDeletionMixin
from oauthgw.admin.display import NOTHING_SHOWN, count_display, datetime_cell, datetime_display, tokens_display
from oauthgw.admin.form_tokens import FIELD as FORM_TOKEN_FIELD
from oauthgw.admin.form_tokens import (
    form_token_check,
    form_token_claim,
    form_token_issue,
    form_token_record,
    form_token_submission,
)
from oauthgw.issuing import dpop
from oauthgw.issuing.bulk_revocation import NOTHING, tokens_count_for_client, tokens_revoke_for_client
from oauthgw.issuing.clients import client_secret_generate, client_secret_rotate, client_set_enabled
from oauthgw.issuing.password_sunset import password_grant_deprecation_stamp, password_grant_sunset_described
from oauthgw.models import Application, AuditEvent, has_grant_type
from oauthgw.signals import SUCCESSFUL

SECRET_TEMPLATE = "admin/oauthgw/application/secret.html"
ALREADY_DONE_TEMPLATE = "admin/oauthgw/application/already_done.html"
ROTATE_TEMPLATE = "admin/oauthgw/application/rotate_secret.html"
REVOKE_TEMPLATE = "admin/oauthgw/application/revoke_tokens.html"

ENABLED_MESSAGE = "Enabled."
DISABLED_MESSAGE = "Disabled; all its tokens were revoked."


class GrantTypeFilter(admin.SimpleListFilter):
    title = "grant type"
    parameter_name = "grant_type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in grants.SERVED]

    def queryset(self, request, queryset):
        value = self.value()
        if value not in grants.SERVED:
            return queryset
        return queryset.filter(has_grant_type(value))


class PasswordGrantSunsetFilter(admin.SimpleListFilter):
    """Clients that still have the password grant, by where they stand with its sunset."""

    title = "password grant sunset"
    parameter_name = "password_grant_sunset"

    def lookups(self, request, model_admin):
        return [("none", "no last day"), ("announced", "last day ahead"), ("ended", "refused")]

    def queryset(self, request, queryset):
        if self.value() not in ("none", "announced", "ended"):
            return queryset
        queryset = queryset.filter(has_grant_type(grants.PASSWORD))
        if self.value() == "none":
            return queryset.filter(password_grant_until__isnull=True)
        # The last day that is already over: refused since its next midnight (UTC).
        last_ended = timezone.now().astimezone(UTC).date() - timedelta(days=1)
        if self.value() == "ended":
            return queryset.filter(password_grant_until__lte=last_ended)
        return queryset.filter(password_grant_until__gt=last_ended)


class _AlreadyDone(Exception):
    """A one-time form came back; raised inside the admin's transaction so nothing is kept."""

    def __init__(self, client_pk: int | None):
        super().__init__(client_pk)
        self.client_pk = client_pk


def _no_store(response: TemplateResponse) -> TemplateResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def password_grant_history(client: Application) -> str:
    """The history line of a new password-grant date: the date and what it means, in UTC."""
    return f"Password grant until changed: {password_grant_sunset_described(client)}."


def rotation_message(client: Application) -> str:
    """The history line of a rotation: when the previous secret stops, never a secret."""
    if client.previous_secret_expires is None:
        return "Secret rotated (previous stopped at once)."
    return f"Secret rotated (previous valid until {datetime_display(client.previous_secret_expires, with_utc=True)})."


# Shared by the add and the change page.
_WHAT_IT_MAY_DO = ("grant_types", "password_grant_until", "allowed_scopes", "default_scopes", "can_introspect")
_TOKEN_SETTINGS = (
    "token_format",
    "audience",
    "dpop",
    "access_token_lifetime",
    "refresh_token_lifetime",
    "session_max_age",
)
_LOGIN_PAGE = ("client_type", "redirect_uris", "allowed_origins", "skip_authorization")
_LOGIN_PAGE_DESCRIPTION = (
    "For the authorization code grant: the gateway's login page signs users in and sends them back to a "
    "redirect URI below."
)


class ApplicationAdmin(ClientDeletionMixin, admin.ModelAdmin):
    form = ApplicationForm
    add_form = ApplicationAddForm
    change_form_template = "admin/oauthgw/application/change_form.html"
    # The toolkit's get_absolute_url() names a route the gateway does not mount.
    view_on_site = False
    list_display = (
        "name",
        "client_id",
        "enabled",
        "grant_list",
        "scopes",
        "server",
        "created_at",
        "last_used",
    )
    list_display_links = ("name", "client_id")
    list_filter = (
        "enabled",
        GrantTypeFilter,
        PasswordGrantSunsetFilter,
        "token_format",
        "dpop",
        "can_introspect",
        "authorization_server",
        "created",
    )
    search_fields = ("name", "client_id", "contact")
    list_select_related = ("authorization_server",)
    readonly_fields = (
        "client_id",
        "created",
        "updated",
        "last_used",
        "secret_status",
        "live_tokens",
        "password_grant_status",
    )
    actions = ("enable_clients", "disable_clients", "rotate_secret", "revoke_client_tokens", "delete_clients")
    fieldsets = (
        (None, {"fields": ("name", "description", "contact", "client_id", "enabled")}),
        ("What it may do", {"fields": (*_WHAT_IT_MAY_DO, "password_grant_status")}),
        ("Tokens", {"fields": (*_TOKEN_SETTINGS, "live_tokens")}),
        ("Resource owners", {"fields": ("authorization_server",)}),
        ("Authorization code and login page", {"fields": _LOGIN_PAGE, "description": _LOGIN_PAGE_DESCRIPTION}),
        ("Secret and history", {"fields": ("secret_status", "created", "updated", "last_used")}),
    )
    add_fieldsets = (
        (None, {"fields": ("name", "description", "contact", "enabled")}),
        ("What it may do", {"fields": _WHAT_IT_MAY_DO}),
        ("Tokens", {"fields": _TOKEN_SETTINGS}),
        ("Resource owners", {"fields": ("authorization_server",)}),
        ("Authorization code and login page", {"fields": _LOGIN_PAGE, "description": _LOGIN_PAGE_DESCRIPTION}),
        ("Secret", {"fields": ("custom_secret",)}),
    )

    # --- Reading ---------------------------------------------------------------

    def get_queryset(self, request):
        last_issued = AuditEvent.objects.filter(client_id=OuterRef("client_id"), outcome__in=SUCCESSFUL).order_by(
            "-time"
        )
        return super().get_queryset(request).annotate(last_used_at=Subquery(last_issued.values("time")[:1]))

    @admin.display(description="server", ordering="authorization_server__name")
    def server(self, obj):
        return obj.authorization_server.name if obj.authorization_server_id else "default"

    @admin.display(description="grant types", ordering="grant_types")
    def grant_list(self, obj):
        # One per line: the column stays as narrow as its longest grant name. The
        # password grant's last day goes under it, as narrow, and the DPoP mode
        # under them all (a column of its own would not fit a 1366-pixel screen).
        lines = [format_html("{}", name) for name in sorted(obj.grant_type_set)]
        if grants.PASSWORD in obj.grant_type_set and obj.password_grant_until is not None:
            ended = obj.password_grant_ended(timezone.now())
            lines.insert(
                lines.index(grants.PASSWORD) + 1,
                format_html(
                    '<span class="gw-sunset{}">{} {}</span>',
                    " gw-sunset-ended" if ended else "",
                    "ended after" if ended else "until",
                    obj.password_grant_until.isoformat(),
                ),
            )
        lines.append(self._dpop_line(obj))
        return mark_safe("<br>".join(lines))  # noqa: S308 (each line escaped above)

    @staticmethod
    def _dpop_line(obj):
        # What the token endpoint applies: a public client may be required by the setting.
        mode = dpop.dpop_mode(obj)
        setting = " (setting)" if mode != obj.dpop else ""
        return format_html('<span class="gw-dpop">DPoP {}{}</span>', mode, setting)

    @admin.display(description="password grant sunset")
    def password_grant_status(self, obj):
        if obj is None or obj.pk is None:
            return NOTHING_SHOWN
        text = password_grant_sunset_described(obj)
        text = text[0].upper() + text[1:] + "."
        if obj.password_grant_deprecated is not None:
            text += f" Announced since {datetime_display(obj.password_grant_deprecated, with_utc=True)}."
        return text

    @admin.display(description="scopes", ordering="allowed_scopes")
    def scopes(self, obj):
        return obj.allowed_scopes

    @admin.display(description="created", ordering="created")
    def created_at(self, obj):
        return datetime_cell(obj.created)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj):
        # The last token issued to it, as long as the audit trail remembers.
        return datetime_cell(getattr(obj, "last_used_at", None))

    @admin.display(description="secret")
    def secret_status(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        rotated = f"rotated {datetime_display(obj.secret_rotated)}" if obj.secret_rotated else "never rotated"
        if obj.previous_client_secret and obj.previous_secret_expires is not None:
            until = datetime_display(obj.previous_secret_expires, with_utc=True)
            return f"Stored hashed; {rotated}; the previous secret is accepted until {until}."
        return f"Stored hashed; {rotated}."

    @admin.display(description="live tokens")
    def live_tokens(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        # Live ones only, as the label says, and the link lists exactly those.
        count = get_access_token_model().objects.filter(application=obj, expires__gt=timezone.now()).count()
        url = reverse("admin:oauth2_provider_accesstoken_changelist") + f"?application__id__exact={obj.pk}&state=live"
        return format_html('<a href="{}">{}</a>', url, count_display(count, "access token", "access tokens"))

    # --- Forms -------------------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def construct_change_message(self, request, form, formsets, add=False):
        # "Changed Enabled." says nothing: name the act, and what disabling did;
        # and what a new password-grant date means, with the date itself.
        spoken = [name for name in ("enabled", "password_grant_until") if name in form.changed_data]
        if add or not spoken:
            return super().construct_change_message(request, form, formsets, add)
        sentences = []
        if "enabled" in spoken:
            sentences.append(ENABLED_MESSAGE if form.instance.enabled else DISABLED_MESSAGE)
        if "password_grant_until" in spoken:
            sentences.append(password_grant_history(form.instance))
        others = [form.fields[name].label or name for name in form.changed_data if name not in spoken]
        if others:
            changed = [{"changed": {"fields": others}}]
            sentences.append(LogEntry(change_message=json.dumps(changed)).get_change_message())
        return " ".join(sentences)

    # --- Registration: the one-time secret ---------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            submission = self._submitted_before(request, purpose=ADD_PURPOSE)
            if submission is not None:
                return self._already_done_response(request, submission.client_pk)
        # A new token for every rendering; the form accepts any this server issued.
        extra_context = {**(extra_context or {}), "form_token": form_token_issue(purpose=ADD_PURPOSE)}
        try:
            return super().add_view(request, form_url, extra_context)
        except _AlreadyDone as done:
            return self._already_done_response(request, done.client_pk)

    def save_model(self, request, obj, form, change):
        password_grant_deprecation_stamp(obj)
        if change:
            super().save_model(request, obj, form, change)
            return
        # Claimed before the insert: a concurrent second submission waits here, then
        # finds it claimed and is rolled back, instead of colliding on the name.
        if not form_token_claim(form.nonce):
            raise _AlreadyDone(None)
        secret = form.cleaned_data.get("custom_secret") or client_secret_generate()
        obj.client_secret = secret  # hashed by the field on save
        super().save_model(request, obj, form, change)
        form_token_record(form.nonce, client_pk=obj.pk)
        # A public client has no secret to show: the stored one is a random value nobody is told.
        obj.one_time_secret = None if obj.is_public else secret

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(obj, "one_time_secret", None)
        if secret is None or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return self._secret_response(request, obj, secret, rotated=False)

    def _secret_response(self, request, client, secret: str, *, rotated: bool) -> TemplateResponse:
        """The page that shows a new secret, once: rendered directly, never put in a message.

        Messages live in the session or a cookie; this response is the only place the
        raw secret ever goes, and no cache may keep it.
        """
        context = {
            **self.admin_site.each_context(request),
            "title": "Client secret rotated" if rotated else "Client registered",
            "opts": self.model._meta,
            "client": client,
            "secret": secret,
            "rotated": rotated,
            "previous_valid_until": datetime_display(client.previous_secret_expires, with_utc=True),
            "change_url": reverse("admin:oauthgw_application_change", args=[client.pk]),
            "changelist_url": reverse("admin:oauthgw_application_changelist"),
        }
        return _no_store(TemplateResponse(request, SECRET_TEMPLATE, context))

    def _submitted_before(self, request, *, purpose: str):
        nonce = form_token_check(request.POST.get(FORM_TOKEN_FIELD), purpose=purpose)
        return None if nonce is None else form_token_submission(nonce)

    def _already_done_response(self, request, client_pk: int | None) -> TemplateResponse:
        """A one-time form submitted again: nothing changed, and the secret is gone for good."""
        client = Application.objects.filter(pk=client_pk).first() if client_pk is not None else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Already done",
            "opts": self.model._meta,
            "client": client,
            "changelist_url": reverse("admin:oauthgw_application_changelist"),
        }
        # 409: whatever sent it again (a reload, a retry) learns that nothing was done.
        return _no_store(TemplateResponse(request, ALREADY_DONE_TEMPLATE, context, status=409))

    # --- Pages of one client -----------------------------------------------------

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="oauthgw_application_rotate_secret",
            ),
            path(
                "<path:object_id>/revoke-tokens/",
                self.admin_site.admin_view(self.revoke_tokens_view),
                name="oauthgw_application_revoke_tokens",
            ),
        ]
        return [*urls, *super().get_urls()]

    def _client_for_change(self, request, object_id) -> Application | None:
        # As the change view finds it: an id that is not a number is "no such client", not a 500.
        client = self.get_object(request, unquote(object_id))
        if client is not None and not self.has_change_permission(request, client):
            raise PermissionDenied
        return client

    def rotate_secret_view(self, request, object_id):
        client = self._client_for_change(request, object_id)
        if client is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if request.method == "POST":
            submission = self._submitted_before(request, purpose=rotate_purpose(client))
            if submission is not None:
                return self._already_done_response(request, submission.client_pk)
        form = RotateSecretForm(request.POST or None, client=client)
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic(using=router.db_for_write(Application)):
                    if not form_token_claim(form.nonce, client_pk=client.pk):
                        raise _AlreadyDone(client.pk)
                    client, secret = client_secret_rotate(
                        client=client,
                        grace=timedelta(seconds=form.cleaned_data["grace"]),
                        secret=form.cleaned_data["custom_secret"] or None,
                    )
                    self.log_change(request, client, rotation_message(client))
            except _AlreadyDone as done:
                return self._already_done_response(request, done.client_pk)
            except ValidationError as exc:
                form.add_error("custom_secret", exc)
            else:
                return self._secret_response(request, client, secret, rotated=True)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Rotate the secret of {client}",
            "opts": self.model._meta,
            "original": client,
            "form": form,
            "form_token": form_token_issue(purpose=rotate_purpose(client)),
            "change_url": reverse("admin:oauthgw_application_change", args=[client.pk]),
        }
        return TemplateResponse(request, ROTATE_TEMPLATE, context)

    def revoke_tokens_view(self, request, object_id):
        """Revoke every token of one client, after a page that says how many."""
        client = self._client_for_change(request, object_id)
        if client is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        change_url = reverse("admin:oauthgw_application_change", args=[client.pk])
        if request.method == "POST":
            revoked = tokens_revoke_for_client(client=client)
            self.log_change(request, client, f"Revoked all tokens: {tokens_display(revoked)}.")
            self.message_user(request, f"Revoked {tokens_display(revoked)} of {client}.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "POST"])
        context = {
            **self.admin_site.each_context(request),
            "title": f"Revoke all tokens of {client}?",
            "opts": self.model._meta,
            "original": client,
            "counts": tokens_display(tokens_count_for_client(client=client)),
            "change_url": change_url,
        }
        return TemplateResponse(request, REVOKE_TEMPLATE, context)

    # --- Actions -----------------------------------------------------------------

    def _set_enabled(self, request, queryset, *, enabled: bool) -> None:
        changed = 0
        for client in queryset:
            if client_set_enabled(client=client, enabled=enabled):
                self.log_change(request, client, ENABLED_MESSAGE if enabled else DISABLED_MESSAGE)
                changed += 1
        verb = "Enabled" if enabled else "Disabled"
        self.message_user(request, ngettext(f"{verb} %d client.", f"{verb} %d clients.", changed) % changed)

    @admin.action(description="Enable selected clients (their old tokens stay revoked)", permissions=["change"])
    def enable_clients(self, request, queryset):
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(
        description="Disable selected clients (revokes all their tokens; enabling again revives none)",
        permissions=["change"],
    )
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
            self.log_change(request, client, f"Revoked all tokens: {tokens_display(count)}.")
            revoked += count
        self.message_user(request, f"Revoked {tokens_display(revoked)}.")
