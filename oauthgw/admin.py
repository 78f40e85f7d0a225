from django import forms
from django.contrib import admin, messages
from oauth2_provider.settings import oauth2_settings

from oauthgw import grants
from oauthgw.clients import client_secret_generate
from oauthgw.models import Application, ResourceOwner


class SpaceSeparatedMultipleChoiceField(forms.MultipleChoiceField):
    """Checkboxes in the form, a space-separated string in the model."""

    widget = forms.CheckboxSelectMultiple

    def prepare_value(self, value):
        return value.split() if isinstance(value, str) else value

    def clean(self, value):
        return " ".join(super().clean(value))


def _scope_choices():
    return sorted(oauth2_settings.SCOPES.items())


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
            "access_token_lifetime",
            "refresh_token_lifetime",
            "can_introspect",
        ]


class ApplicationAdmin(admin.ModelAdmin):
    form = ApplicationForm
    list_display = ("name", "client_id", "enabled", "grant_types", "allowed_scopes", "created")
    list_filter = ("enabled", "can_introspect")
    search_fields = ("name", "client_id")
    readonly_fields = ("client_id", "created", "updated")

    def save_model(self, request, obj, form, change):
        if not change:
            secret = client_secret_generate()
            obj.client_secret = secret
            super().save_model(request, obj, form, change)
            messages.warning(
                request,
                f"Client secret for {obj.client_id}: {secret} — copy it now; it cannot be shown again.",
            )
            return
        super().save_model(request, obj, form, change)


@admin.register(ResourceOwner)
class ResourceOwnerAdmin(admin.ModelAdmin):
    list_display = ("subject", "authorization_server", "first_seen", "last_seen")
    search_fields = ("subject",)
    list_filter = ("authorization_server",)
    readonly_fields = ("user", "authorization_server", "subject", "first_seen", "last_seen")
