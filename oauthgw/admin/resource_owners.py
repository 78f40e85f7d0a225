"""Resource owners: who vouched for them, when they were seen, their live tokens."""

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from oauthgw.admin.display import tokens_display
from oauthgw.admin.tokens import has_revoke_permission
from oauthgw.issuing.bulk_revocation import NOTHING, tokens_revoke_for_user
from oauthgw.models import ResourceOwner

_ACCESS_TOKENS = "user__oauth2_provider_accesstoken"


@admin.register(ResourceOwner)
class ResourceOwnerAdmin(admin.ModelAdmin):
    list_display = ("username", "subject", "authorization_server", "first_seen", "last_seen", "tokens")
    search_fields = ("username", "subject")
    list_filter = ("authorization_server", "last_seen")
    readonly_fields = ("username", "subject", "authorization_server", "first_seen", "last_seen", "tokens", "login")
    fields = readonly_fields
    actions = ("revoke_owner_tokens",)

    def get_queryset(self, request):
        live = Q(**{f"{_ACCESS_TOKENS}__expires__gt": timezone.now()})
        return super().get_queryset(request).annotate(live_tokens=Count(_ACCESS_TOKENS, filter=live))

    def has_add_permission(self, request):
        # Created when an authorization server first vouches for someone.
        return False

    def has_change_permission(self, request, obj=None):
        # What the authorization servers said about someone: read, and revoke their tokens.
        return False

    def has_revoke_permission(self, request) -> bool:
        return has_revoke_permission(self, request)

    @admin.display(description="live access tokens", ordering="live_tokens")
    def tokens(self, obj):
        url = reverse("admin:oauth2_provider_accesstoken_changelist") + f"?user__id__exact={obj.user_id}&state=live"
        return format_html('<a href="{}">{}</a>', url, obj.live_tokens)

    @admin.display(description="admin login")
    def login(self, obj):
        return "never: no usable password, not staff"

    @admin.action(description="Revoke all tokens of selected resource owners", permissions=["revoke"])
    def revoke_owner_tokens(self, request, queryset):
        revoked = NOTHING
        for owner in queryset.select_related("user"):
            count = tokens_revoke_for_user(user=owner.user)
            self.log_change(request, owner, f"Revoked all tokens: {tokens_display(count)}.")
            revoked += count
        self.message_user(request, f"Revoked {tokens_display(revoked)}.")
