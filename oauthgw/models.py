from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from oauth2_provider.models import AbstractApplication, AbstractGrant
from oauth2_provider.settings import oauth2_settings

from oauthgw import grants, redirect_uris, token_formats
from oauthgw.encryption import EncryptedTextField, encrypted_property


def _words(value: str) -> frozenset[str]:
    return frozenset(value.split())


REVERIFY_NEVER = "never"
REVERIFY_ALWAYS = "always"
REVERIFY_INTERVAL = "interval"


def reverify_after_setting(value: str) -> int | None:
    """``OAUTHGW_UPSTREAM_REVERIFY`` as seconds: ``never`` is None, ``always`` 0, a number itself.

    Raises ``ValueError`` for anything else (a system check says so at start).
    """
    text = str(value).strip().lower()
    if text == REVERIFY_NEVER:
        return None
    if text == REVERIFY_ALWAYS:
        return 0
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ValueError(f"{value!r} is not never, always or a positive number of seconds")


PASSWORD_GRANT_UNTIL_HELP = (
    "The last day (UTC) on which this client may use the password grant. Until then every answer to its "
    "password-grant requests carries Deprecation and Sunset headers and a link to the migration guide; from "
    "00:00 UTC the next day they are refused with 400 unauthorized_client, before the password leaves the "
    "gateway. Empty: no sunset, no headers."
)


# A client's use of DPoP (RFC 9449), its ``dpop`` field; the token endpoint's rule is oauthgw.issuing.dpop.
DPOP_OFF = "off"
DPOP_OPTIONAL = "optional"
DPOP_REQUIRED = "required"
DPOP_MODES = [
    (DPOP_OPTIONAL, "optional: a token request with a DPoP proof gets a DPoP-bound token"),
    (DPOP_REQUIRED, "required: no token without a DPoP proof"),
    (DPOP_OFF, "off: the DPoP header is ignored, every token is a Bearer token"),
]
DPOP_HELP = (
    "DPoP (RFC 9449) binds the client's access tokens to a key it holds, so a stolen token is useless without "
    "the key. Optional: a token request that carries a DPoP proof gets a DPoP-bound token (token_type DPoP), one "
    "without gets a Bearer token. Required: a token request without a proof is refused (invalid_dpop_proof). "
    "Off: the DPoP header is ignored. A public client's refresh tokens are bound to its key too."
)


def password_grant_sunset_of(last_day: date | None) -> datetime | None:
    """The moment a password grant whose last day is ``last_day`` ends: 00:00 UTC the next day.

    The one definition of the date's meaning: the admin, the commands, the token
    endpoint, the headers and the dashboard all read it through here.
    """
    if last_day is None:
        return None
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=UTC)


def has_grant_type(grant: str) -> models.Q:
    """Clients allowed ``grant``: a whole word of their space-separated ``grant_types``."""
    return (
        models.Q(grant_types=grant)
        | models.Q(grant_types__startswith=f"{grant} ")
        | models.Q(grant_types__endswith=f" {grant}")
        | models.Q(grant_types__contains=f" {grant} ")
    )


class AuthorizationServer(models.Model):
    """An external authorization server that vouches for the resource owners of some clients.

    The server configured by the ``OAUTHGW_UPSTREAM_*`` settings is the default; it
    is not a row, and clients without a server use it. The gateway's own client
    secret at the server is sent there with every password check, so it cannot be
    hashed: it is stored encrypted (``oauthgw.encryption``), read as
    ``client_secret``, and the admin never displays it.
    """

    DEFAULT_NAME = "default"

    name = models.SlugField(
        max_length=64,
        unique=True,
        help_text="Recorded on every resource owner this server vouches for; cannot be changed later.",
    )
    token_url = models.URLField(max_length=500, help_text="The server's RFC 6749 token endpoint.")
    client_id = models.CharField(max_length=255, help_text="The gateway's own client id at this server.")
    # Ciphertext; ``client_secret`` below is the plaintext, decrypted only when read.
    encrypted_client_secret = EncryptedTextField(blank=True, default="")
    scope = models.CharField(max_length=255, blank=True, default="", help_text="Sent with every password check.")
    timeout = models.FloatField(
        default=5.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(60.0)],
        help_text="Seconds to wait for an answer before the client gets 503.",
    )
    enabled = models.BooleanField(
        default=True, help_text="While disabled, password logins of its clients get 503 temporarily_unavailable."
    )
    reverify = models.CharField(
        "re-verify sessions at refresh",
        max_length=16,
        choices=[
            (REVERIFY_NEVER, "never: a refresh does not ask this server"),
            (REVERIFY_ALWAYS, "always: every refresh asks this server first"),
            (REVERIFY_INTERVAL, "when the last answer is older than the interval below"),
        ],
        default=REVERIFY_NEVER,
        help_text="Whether a refresh first asks this server, with the refresh token it issued at login, "
        "whether it still vouches for the resource owner.",
    )
    reverify_interval = models.PositiveIntegerField(
        "re-verification interval",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Seconds; only with “when the last answer is older than the interval”.",
    )
    reverify_grace = models.PositiveIntegerField(
        "grace during an outage",
        default=0,
        help_text="Seconds since the last successful re-verification during which a refresh is still served "
        "when this server cannot answer (0: answer 503).",
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    client_secret = encrypted_property("encrypted_client_secret")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def reverify_after(self) -> int | None:
        """Seconds after which a session is asked about again: None never, 0 at every refresh."""
        if self.reverify == REVERIFY_ALWAYS:
            return 0
        if self.reverify == REVERIFY_INTERVAL and self.reverify_interval:
            return self.reverify_interval
        return None

    def clean(self) -> None:
        if self.name == self.DEFAULT_NAME:
            raise ValidationError({"name": f"{self.DEFAULT_NAME!r} is the server configured by OAUTHGW_UPSTREAM_*."})
        if self.reverify == REVERIFY_INTERVAL and not self.reverify_interval:
            raise ValidationError({"reverify_interval": "Give the interval in seconds."})
        if self.reverify != REVERIFY_INTERVAL and self.reverify_interval:
            raise ValidationError({"reverify_interval": "An interval applies only to “when the last answer is older”."})
        if not self.encrypted_client_secret:
            # The gateway authenticates itself at the server with it on every password check.
            raise ValidationError({"client_secret": "Enter the gateway's client secret at this server."})
        self._require_secret_with_a_new_url()

    def _require_secret_with_a_new_url(self) -> None:
        # The stored secret goes wherever token_url points: whoever may edit the
        # URL but does not know the secret must not be able to have it sent to
        # a server of their choosing. Encryption is randomised, so an unchanged
        # ciphertext means the secret was not entered again.
        if self.pk is None:
            return
        stored = type(self).objects.filter(pk=self.pk).values("token_url", "encrypted_client_secret").first()
        if stored is None or stored["token_url"] == self.token_url or not stored["encrypted_client_secret"]:
            return
        if self.encrypted_client_secret == stored["encrypted_client_secret"]:
            raise ValidationError(
                {
                    "client_secret": "The token URL changed: enter the client secret again. "
                    "The stored secret is only ever sent to the URL it was entered for."
                }
            )


class Application(AbstractApplication):
    """A registered client: its key (client_id), hashed secret and what it may do.

    Replaces the toolkit's Application (``OAUTH2_PROVIDER_APPLICATION_MODEL``) so a
    client can be disabled and allowed several grants and its own scopes.
    """

    # Required and unique regardless of case: operators tell clients apart by it.
    name = models.CharField(max_length=255, help_text="Unique: how operators and the audit trail tell clients apart.")
    description = models.TextField(blank=True, default="", help_text="What the client is and what it is for.")
    contact = models.CharField(
        max_length=255,
        blank=True,
        default="",
        verbose_name="owner or contact",
        help_text="Who to ask about this client: a team, a person, an e-mail address.",
    )
    client_type = models.CharField(
        max_length=32,
        choices=[
            (AbstractApplication.CLIENT_CONFIDENTIAL, "Confidential: a server that keeps a secret"),
            (AbstractApplication.CLIENT_PUBLIC, "Public: a native or browser app, no secret"),
        ],
        default=AbstractApplication.CLIENT_CONFIDENTIAL,
        help_text="A public client has no secret: it sends its client_id in the token request and may only use "
        "the authorization code with PKCE and the refresh token.",
    )
    redirect_uris = models.TextField(
        "redirect URIs",
        blank=True,
        default="",
        help_text="Authorization code only: where the login page may send the user back, one per line, each compared "
        "as the exact same string. https; http only on 127.0.0.1 or [::1] (any port for public clients, RFC 8252); "
        "a native app's own scheme such as com.example.app:/callback.",
    )
    allowed_origins = models.TextField(
        blank=True,
        default="",
        help_text="Browser apps only: the web origins (https://app.example) whose pages may call the token, "
        "revocation and metadata endpoints (CORS), one per line.",
    )
    skip_authorization = models.BooleanField(
        "first-party (no consent page)",
        default=False,
        help_text="The organisation's own application: a signed-in user goes straight through. Otherwise the "
        "login page asks the user to allow the scopes the client asks for.",
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
    token_format = models.CharField(
        max_length=16,
        choices=token_formats.CHOICES,
        default=token_formats.OPAQUE,
        help_text="Opaque: APIs ask the gateway about every token, and a revocation acts at once everywhere. "
        "JWT (RFC 9068): APIs verify tokens alone with the published keys, and see a revocation only "
        "when the token expires (minutes by default).",
    )
    # db_default: the previous release, still serving during a rolling upgrade, inserts clients without it.
    dpop = models.CharField(
        "DPoP",
        max_length=16,
        choices=DPOP_MODES,
        default=DPOP_OPTIONAL,
        db_default=DPOP_OPTIONAL,
        help_text=DPOP_HELP,
    )
    audience = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="JWT access tokens only: the aud values the client's tokens may carry (the APIs they are for), "
        "separated by spaces or commas; a token request's RFC 8707 resource must be one of them. Empty means the "
        "gateway default (OAUTHGW_JWT_AUDIENCE).",
    )
    access_token_lifetime = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Seconds; empty means the gateway default (shorter for JWT access tokens).",
    )
    refresh_token_lifetime = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Seconds; empty means the gateway default.",
    )
    session_max_age = models.PositiveIntegerField(
        "maximum session age",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Seconds from a password login after which its refresh tokens stop, however often they were "
        "used: the user logs in again. Empty means the gateway default (OAUTHGW_SESSION_MAX_AGE).",
    )
    can_introspect = models.BooleanField(
        default=False,
        help_text="A resource server that may introspect tokens issued to any client (RFC 7662).",
    )
    # The sunset of the password grant (oauthgw.issuing.password_sunset): the last
    # day, in UTC, on which it works; refused from 00:00 UTC the next day.
    password_grant_until = models.DateField(
        "password grant until",
        null=True,
        blank=True,
        help_text=PASSWORD_GRANT_UNTIL_HELP,
    )
    # When a date was first set (and not cleared since): the Deprecation header's date (RFC 9745).
    password_grant_deprecated = models.DateTimeField(null=True, blank=True, editable=False)
    authorization_server = models.ForeignKey(
        AuthorizationServer,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="clients",
        help_text="Who checks its resource owners' passwords; empty means the default (OAUTHGW_UPSTREAM_*).",
    )
    # After a rotation with a grace period the old secret's hash stays valid until
    # ``previous_secret_expires``, so a client can roll over without downtime.
    previous_client_secret = models.CharField(max_length=255, blank=True, default="", editable=False)
    previous_secret_expires = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "client"
        verbose_name_plural = "clients"
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="unique_client_name_ci",
                violation_error_message="A client with this name already exists (names ignore case).",
            ),
            models.CheckConstraint(
                condition=~models.Q(name=""),
                name="client_name_not_empty",
                violation_error_message="A client needs a name.",
            ),
            # A sunset always says since when the grant is deprecated, and only a sunset does.
            models.CheckConstraint(
                condition=models.Q(password_grant_until__isnull=True, password_grant_deprecated__isnull=True)
                | models.Q(password_grant_until__isnull=False, password_grant_deprecated__isnull=False),
                name="client_password_grant_deprecated_with_sunset",
            ),
        ]

    @property
    def grant_type_set(self) -> frozenset[str]:
        return _words(self.grant_types)

    @property
    def is_public(self) -> bool:
        return self.client_type == AbstractApplication.CLIENT_PUBLIC

    @property
    def redirect_uri_list(self) -> list[str]:
        return self.redirect_uris.split()

    @property
    def allowed_origin_list(self) -> list[str]:
        return self.allowed_origins.split()

    def redirect_uri_allowed(self, uri: str) -> bool:
        # Replaces the toolkit's, which lets a registered URI match with another
        # query or path under some settings: here, the exact string (oauthgw.redirect_uris).
        return redirect_uris.redirect_uri_matches(uri, self.redirect_uri_list, public=self.is_public)

    def get_allowed_schemes(self) -> list[str]:
        # The toolkit refuses to redirect to any other scheme (a safety net behind the match above).
        return redirect_uris.redirect_uri_schemes(self.redirect_uri_list)

    def origin_allowed(self, origin: str) -> bool:
        return redirect_uris.origin_matches(origin, self.allowed_origin_list)

    @property
    def issues_jwt(self) -> bool:
        return self.token_format == token_formats.JWT

    @property
    def audience_list(self) -> list[str]:
        return token_formats.audience_values(self.audience)

    @property
    def password_grant_sunset(self) -> datetime | None:
        """The first moment the password grant is refused: 00:00 UTC the day after ``password_grant_until``."""
        return password_grant_sunset_of(self.password_grant_until)

    def password_grant_ended(self, now: datetime) -> bool:
        sunset = self.password_grant_sunset
        return sunset is not None and now >= sunset

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
        self._clean_authorization_code()
        known_scopes = set(oauth2_settings.SCOPES)
        unknown_scopes = self.allowed_scope_set - known_scopes
        if unknown_scopes:
            raise ValidationError({"allowed_scopes": f"Unknown scopes: {' '.join(sorted(unknown_scopes))}"})
        if not self.default_scope_set <= self.allowed_scope_set:
            raise ValidationError({"default_scopes": "Default scopes must be among the allowed scopes."})
        # One form whatever was typed: "a, b", "a,b" and "a b" are stored as "a b".
        self.audience = " ".join(self.audience_list)
        malformed = [value for value in self.audience_list if not token_formats.is_string_or_uri(value)]
        if malformed:
            raise ValidationError(
                {"audience": f"Not an audience (a name without ':', or an absolute URI): {' '.join(malformed)}"}
            )
        ceiling = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
        if self.refresh_token_lifetime and self.refresh_token_lifetime > ceiling:
            raise ValidationError(
                {"refresh_token_lifetime": f"At most {ceiling} seconds (the gateway's REFRESH_TOKEN_EXPIRE_SECONDS)."}
            )

    def _clean_authorization_code(self) -> None:
        # One form whatever was typed: one URI or origin per line, stored space-separated.
        self.redirect_uris = " ".join(self.redirect_uri_list)
        self.allowed_origins = " ".join(self.allowed_origin_list)
        if self.is_public and not self.grant_type_set <= grants.PUBLIC_CLIENT_GRANTS:
            refused = " ".join(sorted(self.grant_type_set - grants.PUBLIC_CLIENT_GRANTS))
            raise ValidationError(
                {
                    "grant_types": f"A public client has no secret: it may only use authorization_code and "
                    f"refresh_token, not {refused}."
                }
            )
        problems = [
            problem
            for uri in self.redirect_uri_list
            if (problem := redirect_uris.redirect_uri_problem(uri, public=self.is_public))
        ]
        if problems:
            raise ValidationError({"redirect_uris": problems})
        if grants.AUTHORIZATION_CODE in self.grant_type_set and not self.redirect_uri_list:
            raise ValidationError({"redirect_uris": "The authorization code needs at least one redirect URI."})
        problems = [problem for origin in self.allowed_origin_list if (problem := redirect_uris.origin_problem(origin))]
        if problems:
            raise ValidationError({"allowed_origins": problems})


class ResourceOwner(models.Model):
    """An end user an external authorization server vouched for.

    Tokens need a user row; this shadow user has an unusable password and no staff
    flag, so it can never log in anywhere. The pair (authorization server,
    subject) identifies the person: the server's ``sub``, or the normalised
    username when it names none (``oauthgw.issuing.resource_owners``).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="resource_owner"
    )
    authorization_server = models.CharField(max_length=255)
    subject = models.CharField(max_length=512)
    username = models.CharField(
        max_length=512, blank=True, default="", help_text="As the server named the owner, or as last logged in with."
    )
    first_seen = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()
    # Blocked at the gateway: no token, whatever the authorization server says.
    blocked = models.BooleanField(default=False)
    blocked_at = models.DateTimeField(null=True, blank=True)
    blocked_reason = models.CharField(max_length=500, blank=True, default="")
    # The normalised username a blocked owner logs in with, so a login can be
    # refused before the password leaves the gateway; empty when not blocked.
    blocked_login = models.CharField(max_length=512, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["authorization_server", "subject"], name="unique_resource_owner")
        ]
        indexes = [
            models.Index(
                fields=["authorization_server", "blocked_login"],
                name="resourceowner_blocked_login",
                condition=~models.Q(blocked_login=""),
            )
        ]

    def __str__(self) -> str:
        return self.username or self.subject


class UpstreamSession(models.Model):
    """A session: one token family of the gateway and what its authorization server said about it.

    A login starts a family (the toolkit's ``RefreshToken.token_family``; the grant
    that did is ``grant_type``), and every refresh of it continues the family; this row follows it. When the
    server's answer to the login carried a refresh token, it is kept here,
    encrypted, to ask the server at a refresh whether it still vouches for the
    resource owner (``oauthgw.issuing.sessions``). The family is live while one of
    its refresh tokens is; its last use is when that token was issued.
    """

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"
    GRACE = "grace"
    LOGIN = "login"
    OUTCOMES = [
        (LOGIN, "vouched for at login"),
        (ACCEPTED, "vouched for again"),
        (UNAVAILABLE, "server unavailable: refused"),
        (GRACE, "server unavailable: served on grace"),
        (REJECTED, "rejected"),
    ]

    family = models.UUIDField(unique=True)
    client = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="sessions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="upstream_sessions")
    authorization_server = models.CharField(max_length=64)
    # The grant that started it (its first refresh token's): a password login's
    # session may have to end at its client's password-grant sunset. A default in
    # the database too: during a rolling upgrade the previous release, which
    # starts only password sessions, inserts rows without it.
    grant_type = models.CharField(max_length=64, default=grants.PASSWORD, db_default=grants.PASSWORD)
    # Ciphertext; ``refresh_token`` is the plaintext. Empty when the server issued none.
    encrypted_refresh_token = EncryptedTextField(blank=True, default="")
    # When the server issued no refresh token but said how long its access token lives.
    upstream_expires = models.DateTimeField(null=True, blank=True)
    started = models.DateTimeField()
    last_verified = models.DateTimeField()
    last_outcome = models.CharField(max_length=16, choices=OUTCOMES, default=LOGIN)
    # While a request asks the server about this session, others do not (a
    # server that rotates its refresh tokens would take the second for a replay).
    verifying_until = models.DateTimeField(null=True, blank=True)

    refresh_token = encrypted_property("encrypted_refresh_token")

    class Meta:
        verbose_name = "session"
        indexes = [models.Index(fields=["user", "started"], name="upstreamsession_user_started")]

    def __str__(self) -> str:
        return f"session {str(self.family)[:8]} started {self.started.astimezone(UTC):%Y-%m-%d %H:%M} UTC"

    @property
    def has_upstream_refresh_token(self) -> bool:
        return bool(self.encrypted_refresh_token)


class DPoPBinding(models.Model):
    """An access token bound to a DPoP key (RFC 9449 section 6): the key's RFC 7638 thumbprint, kept server-side.

    One row per bound access token, its primary key the token's, written with
    the token (``oauthgw.dpop.bindings``) and read with it in the bearer check's
    one statement (``oauthgw.caching.bearer_cache``). A public client's refresh
    token is bound to the key of the access token issued with it (the same
    proof bound both), so it needs no row of its own.

    No database constraint on the token's id: the refresh rotation and a
    client's deletion delete access tokens with one statement each, without the
    ORM's collector, and a constraint would make each of them name this table.
    The ORM deletes the row with its token (CASCADE); a row left behind by those
    statements binds nothing, since a token's id is never reused (SQLite's
    AUTOINCREMENT, PostgreSQL's identity), and the hourly purge deletes it
    (``oauthgw.issuing.retention``).
    """

    access_token = models.OneToOneField(
        oauth2_settings.ACCESS_TOKEN_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="dpop_binding",
    )
    # BASE64URL(SHA-256) of the key's canonical JWK: 43 characters.
    jkt = models.CharField(max_length=43)

    class Meta:
        verbose_name = "DPoP binding"

    def __str__(self) -> str:
        return f"access token {self.access_token_id} bound to key {self.jkt[:8]}…"


class AuditEvent(models.Model):
    """A token-endpoint request and what became of it, or ``count`` alike ones. Never a password, secret or token.

    Failures of requests whose client did not authenticate are counted, not
    written one by one (``oauthgw.observability.audit``): one row per source,
    outcome and interval, whose ``aggregate_key`` says which, with the first
    request's time, address and latency. Every other request has a row of its own
    (``count`` 1, no key).
    """

    time = models.DateTimeField(default=timezone.now, db_index=True)
    client_id = models.CharField(max_length=255, blank=True, default="")
    grant_type = models.CharField(max_length=64, blank=True, default="")
    # As the client sent it, whether or not the upstream accepted it.
    username = models.CharField(max_length=512, blank=True, default="")
    outcome = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    client_ip = models.CharField(max_length=64, blank=True, default="")
    latency_ms = models.PositiveIntegerField()
    # db_default: the previous release, still serving during a rolling upgrade, inserts rows without it.
    count = models.PositiveIntegerField(default=1, db_default=1)
    aggregate_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-time"]
        indexes = [
            models.Index(fields=["client_id", "time"], name="auditevent_client_time"),
            models.Index(fields=["outcome", "time"], name="auditevent_outcome_time"),
        ]

    def __str__(self) -> str:
        # The title of its page and of history entries: a plain string, so UTC, said.
        return f"{self.outcome} {self.client_id or '-'} {self.time.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


class DeletedClient(models.Model):
    """A client that was deleted, remembered by its id and name so the audit trail can still name it.

    Audit events record the ``client_id`` a request sent, as text, and outlive the
    client (``oauthgw.issuing.client_deletion``). The name is kept here, once per
    deleted client, rather than on every event: the token endpoint writes no
    more per request, and deleting a client updates no audit row.
    """

    client_id = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255)
    deleted = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "deleted client"

    def __str__(self) -> str:
        return f"{self.name} (deleted)"


class SharedValue(models.Model):
    """A key of the state all gateway processes share when no Redis is configured.

    Failure counters, circuit-breaker state and short-lived marks
    (``oauthgw.caching.shared_state``): a JSON ``value``, or for a counter an empty value
    and a ``number``, until ``expires`` (Unix time). Expired rows are ignored and
    purged now and then.
    """

    key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField(blank=True, default="")
    number = models.BigIntegerField(default=0)
    expires = models.FloatField(db_index=True)

    def __str__(self) -> str:
        return self.key


class SigningKey(models.Model):
    """A key the gateway signs JWT access tokens with; its public half is published in the JWKS.

    A key is published from ``created``, signs from ``signing_from`` until its
    successor takes over (``signing_until``), and stays published until
    ``published_until``, when the last token it signed has expired. The schedule
    is set by ``oauthgw.issuing.key_rotation``; every process reads it through
    ``oauthgw.signing_keys``. The private key (PKCS #8 PEM) is stored encrypted
    like the upstream secrets (``oauthgw.encryption``) and never displayed.
    """

    # RFC 7638 thumbprint of the public key: the kid of every token it signs.
    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=16)
    public_jwk = models.JSONField()
    encrypted_private_key = EncryptedTextField()
    # Unique, so two processes creating the first key, or two rotations at once,
    # cannot both succeed: the loser reads the winner's key.
    generation = models.PositiveIntegerField(unique=True)
    created = models.DateTimeField(default=timezone.now)
    signing_from = models.DateTimeField()
    signing_until = models.DateTimeField(null=True, blank=True)
    published_until = models.DateTimeField(null=True, blank=True)

    private_key = encrypted_property("encrypted_private_key")

    class Meta:
        ordering = ["-generation"]
        verbose_name = "signing key"

    def __str__(self) -> str:
        return f"{self.algorithm} {self.kid[:12]}…"


class LoginSession(models.Model):
    """A resource owner signed in at the gateway's login page, in one browser (``oauthgw.issuing.login_sessions``).

    The browser holds a random key in a cookie of its own (never Django's admin
    session); this row holds only the key's SHA-256 checksum. While it lasts, a
    second application in the same browser does not ask for the password again.
    What the authorization server said at the login (``UpstreamLogin``) is kept
    for the token families its codes start: its refresh token, encrypted, goes to
    the first family only (``refresh_token`` is emptied when it is taken).
    """

    key_checksum = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions")
    authorization_server = models.CharField(max_length=64)
    # Ciphertext; ``refresh_token`` is the plaintext. Empty when the server issued none, or once taken.
    encrypted_refresh_token = EncryptedTextField(blank=True, default="")
    # The lifetime of the server's access token, when its answer said.
    upstream_expires_in = models.PositiveIntegerField(null=True, blank=True)
    started = models.DateTimeField()
    expires = models.DateTimeField(db_index=True)

    refresh_token = encrypted_property("encrypted_refresh_token")

    class Meta:
        verbose_name = "login session"

    def __str__(self) -> str:
        return f"login session {self.pk} started {self.started.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


class AuthorizationRequest(models.Model):
    """An authorization request waiting for a person: the login page or the consent page shows it.

    Its ``handle`` (random) is what those pages' forms post back, so a form is
    bound to the request it was shown for, and the request's parameters, checked
    once at ``GET /oauth2/authorize``, never travel in hidden fields. Once the
    person has signed in (``login``) and, when asked, allowed the client
    (``consented``), the gateway answers it once: the authorization response (its
    redirect, with the code) is kept encrypted until the code expires, so a
    double submission or a reload answers with the same code instead of a second
    one (``oauthgw.issuing.authorization``).
    """

    handle = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.TextField()
    scope = models.TextField(blank=True, default="")
    state = models.TextField(blank=True, default="")
    code_challenge = models.CharField(max_length=128)
    code_challenge_method = models.CharField(max_length=10)
    created = models.DateTimeField()
    expires = models.DateTimeField(db_index=True)
    login = models.ForeignKey(LoginSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    consented = models.BooleanField(default=False)
    # While one submission of the login form asks the upstream, a second one waits for its outcome.
    attempt_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # How the last attempt ended when it did not sign in (``oauthgw.backends`` outcomes).
    outcome = models.CharField(max_length=32, blank=True, default="")
    retry_at = models.DateTimeField(null=True, blank=True)
    # Ciphertext of the redirect that answered the request (it carries the code).
    encrypted_response = EncryptedTextField(blank=True, default="")
    response_expires = models.DateTimeField(null=True, blank=True)

    response = encrypted_property("encrypted_response")

    class Meta:
        verbose_name = "authorization request"

    def __str__(self) -> str:
        return f"authorization request {self.pk}"


class AuthorizationCode(AbstractGrant):
    """An authorization code (the toolkit's Grant, swapped in by ``OAUTH2_PROVIDER_GRANT_MODEL``).

    ``code`` holds the SHA-256 checksum of the code, never the code itself, as
    tokens are stored. A code is used once: the exchange marks it ``used`` with a
    conditional UPDATE and keeps what it issued (``token_family``, the first
    ``access_token``), so a second presentation revokes them (RFC 6749 section
    4.1.2). ``login`` is the login session whose upstream refresh token the
    family may take (``oauthgw.issuing.authorization_codes``).
    """

    used = models.DateTimeField(null=True, blank=True)
    token_family = models.UUIDField(null=True, blank=True)
    access_token = models.ForeignKey(
        oauth2_settings.ACCESS_TOKEN_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    login = models.ForeignKey(LoginSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "authorization code"
