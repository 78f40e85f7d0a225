"""Access and refresh tokens, by client and by resource owner. No token is ever shown.

Tokens are stored as SHA-256 checksums only; the lists show the first characters
of the checksum as a fingerprint to tell rows apart, which is useless for
presenting a token. Registered by django-oauth-toolkit through
``ACCESS_TOKEN_ADMIN_CLASS`` / ``REFRESH_TOKEN_ADMIN_CLASS``.
"""

from django.contrib import admin
from django.utils import timezone
from oauth2_provider import admin as toolkit_admin

from oauthgw import lifetimes
from oauthgw.revocation import tokens_revoke

FINGERPRINT_LENGTH = 8


def _fingerprint(checksum: str) -> str:
    return f"{checksum[:FINGERPRINT_LENGTH]}…" if checksum else "—"


def _resource_owner(token) -> str:
    if token.user_id is None:
        return "— (client credentials)"
    owner = getattr(token.user, "resource_owner", None)
    return f"{owner} @ {owner.authorization_server}" if owner else token.user.get_username()


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


class _TokenAdminMixin:
    list_select_related = ("application", "user__resource_owner")
    search_fields = (
        "application__client_id",
        "application__name",
        "user__resource_owner__username",
        "user__resource_owner__subject",
    )
    list_per_page = 50

    @admin.display(description="fingerprint")
    def fingerprint(self, obj):
        return _fingerprint(obj.token_checksum)

    @admin.display(description="resource owner", ordering="user__resource_owner__subject")
    def resource_owner(self, obj):
        return _resource_owner(obj)

    @admin.display(description="issued", ordering="created")
    def issued(self, obj):
        return obj.created

    def get_fields(self, request, obj=None):
        return self.detail_fields

    def get_readonly_fields(self, request, obj=None):
        return self.detail_fields

    def _log_revocations(self, request, tokens) -> None:
        for token in tokens:
            self.log_change(request, token, "Revoked.")


class AccessTokenAdmin(_TokenAdminMixin, toolkit_admin.AccessTokenAdmin):
    list_display = ("id", "fingerprint", "application", "resource_owner", "scope", "issued", "expires", "state")
    list_filter = (LiveAccessTokenFilter, "application")
    detail_fields = ("fingerprint", "application", "resource_owner", "scope", "issued", "expires", "state")

    @admin.display(description="state")
    def state(self, obj):
        # A revoked access token is deleted, so a listed one is live or expired.
        return "expired" if obj.is_expired() else "live"

    @admin.action(description="Revoke selected access tokens (and their refresh tokens)", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        tokens = list(queryset)
        self._log_revocations(request, tokens)
        revoked = tokens_revoke(access_tokens=tokens)
        self.message_user(request, f"Revoked {revoked.access_tokens} access tokens.")


class RefreshTokenAdmin(_TokenAdminMixin, toolkit_admin.RefreshTokenAdmin):
    list_display = ("id", "fingerprint", "application", "resource_owner", "issued", "expires", "state")
    list_filter = (RevokedRefreshTokenFilter, "application")
    detail_fields = ("fingerprint", "application", "resource_owner", "issued", "expires", "state")

    @admin.display(description="expires")
    def expires(self, obj):
        return obj.created + lifetimes.refresh_token_lifetime(obj.application) if obj.application_id else "—"

    @admin.display(description="state")
    def state(self, obj):
        if obj.revoked is not None:
            return f"revoked {obj.revoked:%Y-%m-%d %H:%M} UTC"
        if obj.application_id and timezone.now() >= obj.created + lifetimes.refresh_token_lifetime(obj.application):
            return "expired"
        return "active"

    @admin.action(description="Revoke selected refresh tokens (and their access tokens)", permissions=["change"])
    def revoke_tokens(self, request, queryset):
        tokens = list(queryset.filter(revoked__isnull=True))
        self._log_revocations(request, tokens)
        revoked = tokens_revoke(refresh_tokens=tokens)
        self.message_user(request, f"Revoked {revoked.refresh_tokens} refresh tokens.")
