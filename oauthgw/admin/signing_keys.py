"""Signing keys: the schedule at a glance, and rotation. Never the private key."""

import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from oauthgw import signing_keys
from oauthgw.admin.display import datetime_cell, datetime_display
from oauthgw.conf import gateway_settings
from oauthgw.issuing.key_rotation import signing_key_rotate
from oauthgw.models import SigningKey

ROTATE_TEMPLATE = "admin/oauthgw/signingkey/rotate.html"


def key_state(key: SigningKey, now) -> str:
    """Where a key is in its life, as an operator asks it."""
    if key.published_until is not None and now >= key.published_until:
        return "unpublished (deleted at the next rotation)"
    if now < key.signing_from:
        return f"published; signs from {datetime_display(key.signing_from)}"
    if key.signing_until is None or now < key.signing_until:
        return "signing"
    return f"retired; published until {datetime_display(key.published_until)}"


class RotateForm(forms.Form):
    compromised = forms.BooleanField(
        required=False,
        label="The current key is compromised",
        help_text="The new key signs at once and every other key leaves the JWKS now: the gateway refuses "
        "their tokens within seconds, other APIs once their copy of the JWKS expires. Clients whose "
        "tokens are refused get new ones by refreshing.",
    )


class SigningKeyAdmin(admin.ModelAdmin):
    change_list_template = "admin/oauthgw/signingkey/change_list.html"
    list_display = ("kid", "algorithm", "state", "created_at", "signs_from", "signs_until", "published_until_at")
    fields = (
        "kid",
        "algorithm",
        "state",
        "generation",
        "created",
        "signing_from",
        "signing_until",
        "published_until",
        "public_key",
    )
    readonly_fields = fields
    actions = ("rotate_keys",)

    # Keys are made by rotation only and never edited; removal is a rotation too.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="state")
    def state(self, obj):
        return key_state(obj, timezone.now())

    @admin.display(description="created", ordering="created")
    def created_at(self, obj):
        return datetime_cell(obj.created)

    @admin.display(description="signs from", ordering="signing_from")
    def signs_from(self, obj):
        return datetime_cell(obj.signing_from)

    @admin.display(description="signs until", ordering="signing_until")
    def signs_until(self, obj):
        return datetime_cell(obj.signing_until)

    @admin.display(description="published until", ordering="published_until")
    def published_until_at(self, obj):
        return datetime_cell(obj.published_until)

    @admin.display(description="public key (JWK)")
    def public_key(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.public_jwk, indent=2))

    # --- Rotation -------------------------------------------------------------------

    def get_urls(self):
        urls = [path("rotate/", self.admin_site.admin_view(self.rotate_view), name="oauthgw_signingkey_rotate")]
        return [*urls, *super().get_urls()]

    def has_rotate_permission(self, request) -> bool:
        # Adding a key is what a rotation does: the model's add permission governs it.
        return request.user.has_perm("oauthgw.add_signingkey")

    def rotate_view(self, request):
        if not self.has_rotate_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        form = RotateForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            rotation = signing_key_rotate(compromised=form.cleaned_data["compromised"])
            message = f"Rotated in key {rotation.key.kid}: signs from {datetime_display(rotation.key.signing_from)}"
            if rotation.previous_published_until is not None:
                message += (
                    f"; the previous key stays published until {datetime_display(rotation.previous_published_until)}"
                )
            self.log_addition(request, rotation.key, message + ".")
            self.message_user(request, message + ".", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:oauthgw_signingkey_changelist"))
        now = timezone.now()
        context = {
            **self.admin_site.each_context(request),
            "title": "Rotate the signing key",
            "opts": self.model._meta,
            "form": form,
            "current": signing_keys.signing_key(now, fresh=True),
            "signs_from": datetime_display(now + timedelta(seconds=gateway_settings.SIGNING_KEY_PUBLISH_SECONDS)),
            "max_age": gateway_settings.JWKS_MAX_AGE,
            "changelist_url": reverse("admin:oauthgw_signingkey_changelist"),
        }
        return TemplateResponse(request, ROTATE_TEMPLATE, context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_rotate": self.has_rotate_permission(request)}
        return super().changelist_view(request, extra_context)

    @admin.action(description="Rotate the signing key")
    def rotate_keys(self, request, queryset):
        if not self.has_rotate_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:oauthgw_signingkey_rotate"))


admin.site.register(SigningKey, SigningKeyAdmin)
