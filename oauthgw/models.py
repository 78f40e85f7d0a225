from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from oauth2_provider.models import AbstractApplication
from oauth2_provider.settings import oauth2_settings

from oauthgw import grants


def _words(value: str) -> frozenset[str]:
    return frozenset(value.split())


class Application(AbstractApplication):
    """A registered client: its key (client_id), hashed secret and what it may do.

    Replaces the toolkit's Application (``OAUTH2_PROVIDER_APPLICATION_MODEL``) so a
    client can be disabled and allowed several grants and its own scopes.
    """

    # The gateway only authenticates confidential clients with a secret.
    client_type = models.CharField(
        max_length=32,
        choices=AbstractApplication.CLIENT_TYPES,
        default=AbstractApplication.CLIENT_CONFIDENTIAL,
        editable=False,
    )
    # The toolkit's single-grant field is unused: ``grant_types`` replaces it.
    authorization_grant_type = models.CharField(max_length=44, blank=True, default="", editable=False)

    enabled = models.BooleanField(
        default=True, help_text="A disabled client can neither get tokens nor use the ones it has."
    )
    grant_types = models.CharField(
        max_length=100,
        default=f"{grants.PASSWORD} {grants.REFRESH_TOKEN}",
        help_text="Space-separated grant_type values the client may use.",
    )
    allowed_scopes = models.CharField(
        max_length=255, blank=True, default="", help_text="Space-separated scopes the client may request."
    )
    default_scopes = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="Space-separated scopes granted when the request names none.",
    )
    access_token_lifetime = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Seconds; empty means the gateway default.",
    )
    refresh_token_lifetime = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Seconds; empty means the gateway default.",
    )
    can_introspect = models.BooleanField(
        default=False,
        help_text="A resource server that may introspect tokens issued to any client (RFC 7662).",
    )

    @property
    def grant_type_set(self) -> frozenset[str]:
        return _words(self.grant_types)

    @property
    def allowed_scope_set(self) -> frozenset[str]:
        return _words(self.allowed_scopes)

    @property
    def default_scope_set(self) -> frozenset[str]:
        return _words(self.default_scopes)

    def allows_grant_type(self, *grant_types: str) -> bool:
        granted = self.grant_type_set
        return any(grants.from_toolkit_name(name) in granted for name in grant_types)

    def is_usable(self, request) -> bool:
        return self.enabled

    def clean(self) -> None:
        # The toolkit's clean() checks redirect URIs and OIDC keys, which a
        # token-endpoint-only client does not have.
        unknown_grants = self.grant_type_set - set(grants.SERVED)
        if unknown_grants:
            raise ValidationError({"grant_types": f"Unknown grant types: {' '.join(sorted(unknown_grants))}"})
        known_scopes = set(oauth2_settings.SCOPES)
        unknown_scopes = self.allowed_scope_set - known_scopes
        if unknown_scopes:
            raise ValidationError({"allowed_scopes": f"Unknown scopes: {' '.join(sorted(unknown_scopes))}"})
        if not self.default_scope_set <= self.allowed_scope_set:
            raise ValidationError({"default_scopes": "Default scopes must be among the allowed scopes."})


class ResourceOwner(models.Model):
    """An end user an external authorization server vouched for.

    Tokens need a user row; this shadow user has an unusable password and no staff
    flag, so it can never log in anywhere. The pair (authorization server,
    subject) identifies the person; the username the upstream accepted is the
    subject.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="resource_owner"
    )
    authorization_server = models.CharField(max_length=255)
    subject = models.CharField(max_length=512)
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["authorization_server", "subject"], name="unique_resource_owner")
        ]

    def __str__(self) -> str:
        return self.subject
