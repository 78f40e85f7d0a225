"""Resource owners: who vouched for them, when they were seen, their sessions, blocking them."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from oauthgw.admin.display import datetime_cell, datetime_display, tokens_display, wrappable
from oauthgw.admin.tokens import has_revoke_permission
from oauthgw.issuing import lifetimes
from oauthgw.issuing.bulk_revocation import NOTHING, tokens_revoke_for_user
from oauthgw.issuing.resource_owners import resource_owner_block, resource_owner_unblock
from oauthgw.issuing.sessions import session_end, sessions_live_for_user
from oauthgw.models import ResourceOwner, UpstreamSession

_ACCESS_TOKENS = "user__oauth2_provider_accesstoken"
BLOCK_TEMPLATE = "admin/oauthgw/resourceowner/block.html"


class BlockForm(forms.Form):
    reason = forms.CharField(
        max_length=ResourceOwner._meta.get_field("blocked_reason").max_length,
        required=False,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="For the other operators: why (a departure, a lost phone, a ticket number).",
    )


def upstream_token_display(session: UpstreamSession) -> str:
    """What the session can be re-verified with: never the token itself."""
    if session.has_upstream_refresh_token:
        return "kept (encrypted)"
    if session.upstream_expires is not None:
        return f"none: under re-verification it refreshes until {datetime_display(session.upstream_expires)}"
    return "none: under re-verification it refreshes for the interval only, never with “always”"


def session_rows(owner: ResourceOwner) -> list[dict]:
    """The owner's live sessions as the page shows them, newest first."""
    rows = []
    for session in sessions_live_for_user(user=owner.user):
        max_age = lifetimes.session_max_age_seconds(session.client)
        rows.append(
            {
                "family": session.family,
                "client": session.client,
                "started": datetime_display(session.started),
                "last_used": datetime_display(session.last_used),
                "last_verified": datetime_display(session.last_verified),
                "outcome": session.get_last_outcome_display(),
                "upstream_token": upstream_token_display(session),
                "ends": (datetime_display(session.started + timedelta(seconds=max_age)) if max_age else "never"),
            }
        )
    return rows


@admin.register(ResourceOwner)
class ResourceOwnerAdmin(admin.ModelAdmin):
    change_form_template = "admin/oauthgw/resourceowner/change_form.html"
    list_display = (
        "owner_username",
        "subject_id",
        "authorization_server",
        "first_seen_at",
        "last_seen_at",
        "tokens",
        "blocked_list",
    )
    search_fields = ("username", "subject")
    list_filter = ("authorization_server", "blocked", "last_seen")
    readonly_fields = (
        "username",
        "subject",
        "authorization_server",
        "first_seen",
        "last_seen",
        "tokens",
        "block_state",
        "login",
    )
    fields = readonly_fields
    actions = ("revoke_owner_tokens",)

    def get_queryset(self, request):
        live = Q(**{f"{_ACCESS_TOKENS}__expires__gt": timezone.now()})
        return super().get_queryset(request).annotate(live_tokens=Count(_ACCESS_TOKENS, filter=live))

    def has_add_permission(self, request):
        # Created when an authorization server first vouches for someone.
        return False

    def has_change_permission(self, request, obj=None):
        # What the authorization servers said about someone: read, revoke their sessions, block them.
        return False

    def has_revoke_permission(self, request) -> bool:
        return has_revoke_permission(self, request)

    @admin.display(description="username", ordering="username")
    def owner_username(self, obj):
        return wrappable(obj.username)

    @admin.display(description="subject", ordering="subject")
    def subject_id(self, obj):
        return wrappable(obj.subject)

    @admin.display(description="first seen", ordering="first_seen")
    def first_seen_at(self, obj):
        return datetime_cell(obj.first_seen)

    @admin.display(description="last seen", ordering="last_seen")
    def last_seen_at(self, obj):
        return datetime_cell(obj.last_seen)

    @admin.display(description="live access tokens", ordering="live_tokens")
    def tokens(self, obj):
        url = reverse("admin:oauth2_provider_accesstoken_changelist") + f"?user__id__exact={obj.user_id}&state=live"
        return format_html('<a href="{}">{}</a>', url, obj.live_tokens)

    @admin.display(description="blocked", ordering="blocked")
    def blocked_list(self, obj):
        # Words, not Django's boolean icons: a green tick would read as "fine".
        return "blocked" if obj.blocked else "no"

    @admin.display(description="blocked at the gateway")
    def block_state(self, obj):
        if not obj.blocked:
            return "no"
        reason = f": {obj.blocked_reason}" if obj.blocked_reason else ""
        return f"since {datetime_display(obj.blocked_at)}{reason}. Logins are refused; the server is not asked."

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

    # --- The owner's page: sessions, blocking ---------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        owner = self.get_object(request, unquote(object_id))
        if owner is not None:
            extra_context = {
                **(extra_context or {}),
                "sessions": session_rows(owner),
                "may_revoke": self.has_revoke_permission(request),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/sessions/<uuid:family>/revoke/",
                self.admin_site.admin_view(self.revoke_session_view),
                name="oauthgw_resourceowner_revoke_session",
            ),
            path(
                "<path:object_id>/sessions/revoke/",
                self.admin_site.admin_view(self.revoke_sessions_view),
                name="oauthgw_resourceowner_revoke_sessions",
            ),
            path(
                "<path:object_id>/block/",
                self.admin_site.admin_view(self.block_view),
                name="oauthgw_resourceowner_block",
            ),
            path(
                "<path:object_id>/unblock/",
                self.admin_site.admin_view(self.unblock_view),
                name="oauthgw_resourceowner_unblock",
            ),
        ]
        return [*urls, *super().get_urls()]

    def _owner_for_revoking(self, request, object_id) -> ResourceOwner | None:
        if not self.has_revoke_permission(request):
            raise PermissionDenied
        return self.get_object(request, unquote(object_id))

    def _owner_url(self, owner: ResourceOwner) -> str:
        return reverse("admin:oauthgw_resourceowner_change", args=[owner.pk])

    def revoke_session_view(self, request, object_id, family):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        owner = self._owner_for_revoking(request, object_id)
        if owner is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        # Only a session of this owner: the URL names both.
        if UpstreamSession.objects.filter(user_id=owner.user_id, family=family).exists():
            session_end(family=family)
            self.log_change(request, owner, f"Revoked session {str(family)[:8]}.")
            self.message_user(request, "Revoked the session: its tokens stopped working.", messages.SUCCESS)
        else:
            self.message_user(request, "That session had already ended.", messages.WARNING)
        return HttpResponseRedirect(self._owner_url(owner))

    def revoke_sessions_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        owner = self._owner_for_revoking(request, object_id)
        if owner is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        revoked = tokens_revoke_for_user(user=owner.user)
        self.log_change(request, owner, f"Revoked all sessions: {tokens_display(revoked)}.")
        self.message_user(request, f"Revoked all sessions of {owner}: {tokens_display(revoked)}.", messages.SUCCESS)
        return HttpResponseRedirect(self._owner_url(owner))

    def block_view(self, request, object_id):
        owner = self._owner_for_revoking(request, object_id)
        if owner is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        form = BlockForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            revoked = resource_owner_block(owner=owner, reason=form.cleaned_data["reason"])
            self.log_change(request, owner, f"Blocked; revoked {tokens_display(revoked)}.")
            message = f"Blocked {owner}: their logins are refused; revoked {tokens_display(revoked)}."
            self.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(self._owner_url(owner))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Block {owner}?",
            "opts": self.opts,
            "original": owner,
            "form": form,
            "session_count": len(sessions_live_for_user(user=owner.user)),
            "change_url": self._owner_url(owner),
        }
        return TemplateResponse(request, BLOCK_TEMPLATE, context)

    def unblock_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        owner = self._owner_for_revoking(request, object_id)
        if owner is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if resource_owner_unblock(owner=owner):
            self.log_change(request, owner, "Unblocked.")
            self.message_user(request, f"Unblocked {owner}: they can log in again.", messages.SUCCESS)
        return HttpResponseRedirect(self._owner_url(owner))
