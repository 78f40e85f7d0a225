"""The clients admin's forms: registration, changes, rotation."""

from django import forms
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from oauth2_provider.settings import oauth2_settings

from oauthgw import grants
from oauthgw.admin.fields import SpaceSeparatedMultipleChoiceField, WriteOnlySecretField
from oauthgw.admin.form_tokens import FIELD as FORM_TOKEN_FIELD
from oauthgw.admin.form_tokens import form_token_check
from oauthgw.hashers import MIN_CUSTOM_SECRET_LENGTH
from oauthgw.issuing.clients import client_secret_validate
from oauthgw.models import DPOP_OPTIONAL, Application

ADD_PURPOSE = "add-client"

DAY = 24 * 3600
GRACE_CHOICES = (
    (0, "None: the old secret stops working now"),
    (3600, "1 hour"),
    (DAY, "24 hours"),
    (7 * DAY, "7 days"),
    (30 * DAY, "30 days"),
)
# Every deployed copy of a client keeps working through a rotation unless the
# operator chooses otherwise: stopping the old secret at once is a deliberate act.
DEFAULT_GRACE = DAY

ENABLED_HELP = (
    "A disabled client can neither get tokens nor use the ones it has. Disabling revokes all its tokens, "
    "so enabling it again revives none: its users log in again."
)


def rotate_purpose(client: Application) -> str:
    return f"rotate-secret-{client.pk}"


def _scope_choices():
    return sorted(oauth2_settings.SCOPES.items())


class OneTimeFormMixin:
    """Accepts a submission only with a form token this server issued for the form (``form_tokens``).

    ``nonce`` is the token's random part once the form is valid; the view claims it
    in the transaction that does the work.
    """

    form_token_purpose = ""
    nonce: str | None = None

    def clean(self):
        cleaned_data = super().clean()
        self.nonce = form_token_check(self.data.get(FORM_TOKEN_FIELD), purpose=self.form_token_purpose)
        if self.nonce is None:
            raise ValidationError(
                "This form has expired or did not come from this page: check the values and submit it again.",
                code="form_token",
            )
        return cleaned_data


class ApplicationForm(forms.ModelForm):
    grant_types = SpaceSeparatedMultipleChoiceField(choices=grants.CHOICES)
    # ISO 8601 only: 06/07/2031 is a different day on either side of the Atlantic.
    password_grant_until = forms.DateField(
        label="Password grant until",
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=AdminDateWidget(format="%Y-%m-%d"),
        help_text=Application._meta.get_field("password_grant_until").help_text + " Format: YYYY-MM-DD.",
        error_messages={"invalid": "Enter the password grant's last day (UTC) as YYYY-MM-DD."},
    )
    allowed_scopes = SpaceSeparatedMultipleChoiceField(choices=_scope_choices, required=False)
    default_scopes = SpaceSeparatedMultipleChoiceField(choices=_scope_choices, required=False)

    class Meta:
        model = Application
        fields = [
            "name",
            "description",
            "contact",
            "enabled",
            "grant_types",
            "password_grant_until",
            "allowed_scopes",
            "default_scopes",
            "can_introspect",
            "token_format",
            "audience",
            "dpop",
            "access_token_lifetime",
            "refresh_token_lifetime",
            "session_max_age",
            "authorization_server",
            "client_type",
            "redirect_uris",
            "allowed_origins",
            "skip_authorization",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "token_format": forms.RadioSelect,
            "dpop": forms.RadioSelect,
            "client_type": forms.RadioSelect,
            "redirect_uris": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "allowed_origins": forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        server = self.fields.get("authorization_server")
        if server is not None:
            server.empty_label = "default (OAUTHGW_UPSTREAM_* settings)"
        enabled = self.fields.get("enabled")
        if enabled is not None:
            enabled.help_text = ENABLED_HELP
        if self.is_bound and "client_type" in self.fields and "client_type" not in self.data:
            # A form that names no type (an older page, a script) keeps the client's, or registers
            # a confidential one as it always did.
            self.data = self.data.copy()
            self.data["client_type"] = self.instance.client_type or Application.CLIENT_CONFIDENTIAL
        if self.is_bound and "dpop" in self.fields and "dpop" not in self.data:
            # Likewise a form from before DPoP keeps the client's mode, or the default.
            self.data = self.data.copy()
            self.data["dpop"] = self.instance.dpop or DPOP_OPTIONAL
        # Stored space-separated, shown one per line as the help text asks.
        for name in ("redirect_uris", "allowed_origins"):
            if name in self.fields and self.instance.pk and not self.is_bound:
                self.initial[name] = "\n".join(getattr(self.instance, name).split())

    def clean_name(self) -> str:
        # The database refuses it too (a unique index on lower(name)); this says so next to the field.
        name = self.cleaned_data["name"]
        clash = Application.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).first()
        if clash is not None:
            raise ValidationError(
                f"The client {clash.name!r} already has this name; names must differ in more than case.",
                code="name_taken",
            )
        return name


class CustomSecretMixin(forms.Form):
    """An optional secret typed by an admin, refused unless it is safe with the fast hasher."""

    custom_secret = WriteOnlySecretField(
        label="Custom secret",
        help_text=f"Leave empty to generate a long random secret (recommended). "
        f"A secret you type must have at least {MIN_CUSTOM_SECRET_LENGTH} characters.",
    )

    def clean_custom_secret(self) -> str:
        secret = self.cleaned_data.get("custom_secret") or ""
        if secret:
            client_secret_validate(secret)
        return secret


class ApplicationAddForm(OneTimeFormMixin, CustomSecretMixin, ApplicationForm):
    form_token_purpose = ADD_PURPOSE

    def clean(self):
        cleaned_data = super().clean()
        if cleaned_data.get("client_type") == Application.CLIENT_PUBLIC and cleaned_data.get("custom_secret"):
            self.add_error("custom_secret", "A public client has no secret: leave this empty.")
        return cleaned_data


class RotateSecretForm(OneTimeFormMixin, CustomSecretMixin, forms.Form):
    grace = forms.TypedChoiceField(
        label="Keep the old secret valid for",
        choices=GRACE_CHOICES,
        coerce=int,
        initial=DEFAULT_GRACE,
        help_text="Both secrets work until then, so the client's deployments can switch without downtime. "
        "Choose None only when the old secret must stop at once (it leaked).",
    )

    def __init__(self, *args, client: Application, **kwargs):
        super().__init__(*args, **kwargs)
        self.form_token_purpose = rotate_purpose(client)
