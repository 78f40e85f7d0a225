"""Access and refresh tokens, by client and by resource owner. No token is ever shown.

Tokens are stored as SHA-256 checksums only; the lists show the first characters
of the checksum as a fingerprint to tell rows apart, which is useless for
presenting a token. Registered by django-oauth-toolkit through
``ACCESS_TOKEN_ADMIN_CLASS`` / ``REFRESH_TOKEN_ADMIN_CLASS``.
"""

from django.contrib import admin
from django.contrib.auth import get_permission_codename
from django.utils import timezone
from oauth2_provider import admin as toolkit_admin

from oauthgw.admin.display import count_display, datetime_cell, datetime_display, wrappable
from oauthgw.issuing import lifetimes
from oauthgw.issuing.bulk_revocation import tokens_revoke

FINGERPRINT_LENGTH = 8


def _fingerprint(checksum: str) -> str:
    return f"{checksum[:FINGERPRINT_LENGTH]}…" if checksum else "—"


def _resource_owner(token) -> str:
    if token.user_id is None:
        return "— (client credentials)"
    owner = getattr(token.user, "resource_owner", None)
    return wrappable(f"{owner} @ {owner.authorization_server}" if owner else token.user.get_username())


class LiveAccessTokenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "live"), ("expired", "expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(expires__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires__lte=now)
        return queryset


class RevokedRefreshTokenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "not revoked"), ("revoked", "revoked")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked__isnull=False)
        return queryset


class ClientListFilter(admin.RelatedFieldListFilter):
    """The token's application, called what the admin calls it: a client."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "client"


def has_revoke_permission(model_admin, request) -> bool:
    """Whether the user may revoke rows that the admin shows read-only.

    Revoking is the only change the admin makes to tokens and resource owners, so
    it goes with the model's "change" permission, while ``has_change_permission``
    says no to editing (the pages are titled "View …" and have no Save button).
    """
    opts = model_admin.opts
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")


class _TokenAdminMixin:
    list_select_related = ("application", "user__resource_owner")
    search_fields = (
        "application__client_id",
        "application__name",
        "user__resource_owner__username",
        "user__resource_owner__subject",
    )
    list_per_page = 50

    def has_change_permission(self, request, obj=None):
        # Issued by the token endpoint, ended by revocation: never edited by hand.
        return False

    def has_revoke_permission(self, request) -> bool:
        return has_revoke_permission(self, request)

    @admin.display(description="client", ordering="application__name")
    def client(self, obj):
        return obj.application

    @admin.display(description="fingerprint")
    def fingerprint(self, obj):
        return _fingerprint(obj.token_checksum)

    @admin.display(description="resource owner", ordering="user__resource_owner__subject")
    def resource_owner(self, obj):
        return _resource_owner(obj)

    @admin.display(description="issued", ordering="created")
    def issued(self, obj):
        return datetime_cell(obj.created)

    def get_fields(self, request, obj=None):
        return self.detail_fields

    def get_readonly_fields(self, request, obj=None):
        return self.detail_fields

    def _log_revocations(self, request, tokens) -> None:
        for token in tokens:
            self.log_change(request, token, "Revoked.")


class AccessTokenAdmin(_TokenAdminMixin, toolkit_admin.AccessTokenAdmin):
    list_display = ("id", "fingerprint", "client", "resource_owner", "scope", "issued", "expires_at", "state")
    list_filter = (LiveAccessTokenFilter, ("application", ClientListFilter))
    detail_fields = ("fingerprint", "client", "resource_owner", "scope", "issued", "expires_at", "state")

    @admin.display(description="expires", ordering="expires")
    def expires_at(self, obj):
        return datetime_cell(obj.expires)

    @admin.display(description="state")
    def state(self, obj):
        # A revoked access token is deleted, so a listed one is live or expired.
        return "expired" if obj.is_expired() else "live"

    @admin.action(description="Revoke selected access tokens (and their refresh tokens)", permissions=["revoke"])
    def revoke_tokens(self, request, queryset):
        tokens = list(queryset)
        self._log_revocations(request, tokens)
        revoked = tokens_revoke(access_tokens=tokens)
        self.message_user(request, f"Revoked {count_display(revoked.access_tokens, 'access token', 'access tokens')}.")


class RefreshTokenAdmin(_TokenAdminMixin, toolkit_admin.RefreshTokenAdmin):
    list_display = ("id", "fingerprint", "client", "resource_owner", "issued", "expires", "state")
    list_filter = (RevokedRefreshTokenFilter, ("application", ClientListFilter))
    detail_fields = ("fingerprint", "client", "resource_owner", "issued", "expires", "state")

    @admin.display(description="expires")
    def expires(self, obj):
        return datetime_cell(
            obj.created + lifetimes.refresh_token_lifetime(obj.application) if obj.application_id else None
        )

    @admin.display(description="state")
    def state(self, obj):
        if obj.revoked is not None:
            return f"revoked {datetime_display(obj.revoked)}"
        if obj.application_id and timezone.now() >= obj.created + lifetimes.refresh_token_lifetime(obj.application):
            return "expired"
        return "active"

    @admin.action(description="Revoke selected refresh tokens (and their access tokens)", permissions=["revoke"])
    def revoke_tokens(self, request, queryset):
        tokens = list(queryset.filter(revoked__isnull=True))
        self._log_revocations(request, tokens)
        revoked = tokens_revoke(refresh_tokens=tokens)
        self.message_user(
            request, f"Revoked {count_display(revoked.refresh_tokens, 'refresh token', 'refresh tokens')}."
        )
