"""Registering and managing clients: the only place a raw client secret exists, once."""

import functools
from datetime import date, datetime, timedelta

from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import Q
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.crypto import get_random_string
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.settings import oauth2_settings

from oauthgw import grants, token_formats
from oauthgw.caching import joined_rows
from oauthgw.hashers import MIN_CUSTOM_SECRET_LENGTH
from oauthgw.issuing.bulk_revocation import tokens_revoke_for_client
from oauthgw.issuing.password_sunset import password_grant_deprecation_stamp
from oauthgw.models import DPOP_OPTIONAL, Application, AuthorizationServer

# Where a token request's read of its client (``client_load``) is handed from the token view to
# oauthlib's request, among the WSGI environ's keys (``OAuthLibCore.extract_headers`` copies them;
# a client's headers all become HTTP_*, so none can set it): the validator then reads it no second time.
CLIENT_READ_KEY = "oauthgw.client"


def client_load(client_id: str) -> Application | None:
    """The client with this ``client_id`` (enabled or not), read from the database, or None.

    Read on every token request, never copied: the token endpoint must not issue a
    token to a client the database says is disabled, however it was disabled (the
    admin, a command, a queryset update, plain SQL). One indexed query.
    """
    if not client_id or "\x00" in client_id:
        # No client id has a NUL, and PostgreSQL would refuse the query (a 500).
        return None
    database = router.db_for_read(Application)
    sql, tables = _client_select(connections[database])
    instances = joined_rows.read_joined_row(database, sql, [client_id], tables)
    if instances is None:
        return None
    client, server = instances
    # As select_related does: no further query for the server, or for its absence.
    Application._meta.get_field("authorization_server").set_cached_value(client, server)
    return client


@functools.lru_cache(maxsize=64)
def _client_select(connection) -> tuple[str, list[joined_rows.Table]]:
    """The statement of ``client_load``, built once per connection (``joined_rows``).

    ``select_related("authorization_server")`` compiled anew on every token
    request cost about four times the query's own execution (1.0 ms against 0.24 ms).
    """
    quote = connection.ops.quote_name
    client_table, client_columns = joined_rows.table_columns(connection, Application, "a")
    server_table, server_columns = joined_rows.table_columns(connection, AuthorizationServer, "s")
    server_id = quote(Application._meta.get_field("authorization_server").column)
    # Only identifiers from the models' metadata are interpolated; the client id is a parameter.
    sql = (
        f"SELECT {', '.join(client_columns + server_columns)} "  # noqa: S608
        f"FROM {quote(Application._meta.db_table)} a "
        f"LEFT JOIN {quote(AuthorizationServer._meta.db_table)} s "
        f"ON s.{quote(AuthorizationServer._meta.pk.column)} = a.{server_id} "
        f"WHERE a.{quote(Application._meta.get_field('client_id').column)} = %s"
    )
    return sql, [client_table, server_table]


def client_by_id_or_name(identifier: str) -> Application:
    """The client an operator names on a command line: by its client id, or by its name (ignoring case).

    Raises ``ValueError`` with a sentence for the operator when no client has it,
    or when it is one client's id and another's name.
    """
    identifier = identifier.strip()
    matches = list(Application.objects.filter(Q(client_id=identifier) | Q(name__iexact=identifier))[:2])
    if not matches:
        raise ValueError(f"No client has the client id or the name {identifier!r}.")
    if len(matches) > 1:
        by_id, by_name = sorted(matches, key=lambda client: client.client_id != identifier)
        raise ValueError(
            f"{identifier!r} is the client id of {by_id.name!r} and the name of another client "
            f"(client id {by_name.client_id}): give {by_id.name!r} or {by_name.client_id} instead."
        )
    return matches[0]


def client_secret_generate() -> str:
    return generate_client_secret()


def client_secret_validate(secret: str) -> None:
    """Refuse a secret typed by a person that the fast hasher could not keep safe."""
    if len(secret) < MIN_CUSTOM_SECRET_LENGTH:
        raise ValidationError(
            f"A custom client secret must be at least {MIN_CUSTOM_SECRET_LENGTH} characters "
            f"(this one has {len(secret)}); leave it empty to generate one.",
            code="secret_too_short",
        )
    if secret != secret.strip():
        raise ValidationError("A client secret must not start or end with whitespace.", code="secret_whitespace")
    try:
        identify_hasher(secret)
    except ValueError:
        return
    # The toolkit stores a value that already looks like a hash as it is.
    raise ValidationError("A client secret must not look like a password hash.", code="secret_looks_hashed")


@transaction.atomic
def client_create(
    *,
    name: str,
    grant_types: list[str],
    scopes: list[str],
    default_scopes: list[str] | None = None,
    can_introspect: bool = False,
    authorization_server: AuthorizationServer | None = None,
    secret: str | None = None,
    token_format: str = token_formats.OPAQUE,
    audience: list[str] | None = None,
    password_grant_until: date | None = None,
    public: bool = False,
    redirect_uris: list[str] | None = None,
    allowed_origins: list[str] | None = None,
    skip_authorization: bool = False,
    dpop: str = DPOP_OPTIONAL,
) -> tuple[Application, str | None]:
    """Create an enabled client; return it with its secret, which is stored only hashed.

    ``secret`` is a custom secret chosen by an operator; by default one is generated.
    ``audience`` (JWT access tokens only) defaults to the gateway's.
    ``password_grant_until`` is the last day (UTC) of its password grant
    (``oauthgw.issuing.password_sunset``); by default it has none. A ``public``
    client (a native or browser app) gets no secret (None): the one stored is a
    random value nobody is told, and a secret presented for it is refused anyway.
    ``dpop``: its DPoP mode (``oauthgw.issuing.dpop``).
    """
    if public and secret is not None:
        raise ValidationError("A public client has no secret.", code="public_secret")
    if secret is None:
        secret = client_secret_generate()
    else:
        client_secret_validate(secret)
    client = Application(
        client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
        redirect_uris=" ".join(redirect_uris or []),
        allowed_origins=" ".join(allowed_origins or []),
        skip_authorization=skip_authorization,
        name=name.strip(),
        client_secret=secret,
        grant_types=" ".join(grant_types),
        allowed_scopes=" ".join(scopes),
        default_scopes=" ".join(scopes if default_scopes is None else default_scopes),
        can_introspect=can_introspect,
        authorization_server=authorization_server,
        token_format=token_format,
        audience=" ".join(audience or []),
        password_grant_until=password_grant_until,
        dpop=dpop,
    )
    password_grant_deprecation_stamp(client)
    client.full_clean(exclude=["client_secret"])
    client.save()
    return client, (None if public else secret)


@transaction.atomic
def client_secret_rotate(
    *, client: Application, grace: timedelta = timedelta(0), secret: str | None = None
) -> tuple[Application, str]:
    """Give the client a new secret; return the client and the secret, shown once.

    With a positive ``grace`` the old secret keeps working until then, so the
    client's deployments can roll over without downtime; otherwise it stops at
    once. A secret still in an earlier grace period is replaced.
    """
    if grace < timedelta(0):
        raise ValueError("the grace period cannot be negative")
    if secret is None:
        secret = client_secret_generate()
    else:
        client_secret_validate(secret)
    now = timezone.now()
    client = Application.objects.select_for_update().get(pk=client.pk)
    if grace > timedelta(0):
        client.previous_client_secret = client.client_secret  # already a hash
        client.previous_secret_expires = now + grace
    else:
        client.previous_client_secret = ""
        client.previous_secret_expires = None
    client.client_secret = secret
    client.secret_rotated = now
    # save() and not update(): the bearer cache listens for the client's post_save.
    client.save(
        update_fields=[
            "client_secret",
            "previous_client_secret",
            "previous_secret_expires",
            "secret_rotated",
            "updated",
        ]
    )
    return client, secret


@functools.lru_cache(maxsize=4)
def _dummy_hash(hasher: str) -> str:
    # A hash of a random secret nobody knows, made by the hasher real secrets use,
    # so verifying against it costs what verifying against a client's costs.
    return make_password(get_random_string(64), hasher=hasher)


def client_secret_matches(client: Application | None, secret: str, *, now: datetime | None = None) -> bool:
    """Whether ``secret`` is the client's secret, or its previous one still inside its grace period.

    Always the same work: two hash verifications, against the client's hashes or
    a dummy one. Without that, refusing an unknown client id (no hash to check)
    was faster than refusing a known one, and the time told which ids exist.
    """
    dummy = _dummy_hash(oauth2_settings.CLIENT_SECRET_HASHER)
    current = client.client_secret if client is not None else dummy
    previous = (client.previous_client_secret if client is not None else "") or dummy
    # Both verified, whatever the first one says.
    current_matches = check_password(secret, current)
    previous_matches = check_password(secret, previous)
    if client is None:
        return False
    if current_matches:
        return True
    expires = client.previous_secret_expires
    in_grace = bool(client.previous_client_secret) and expires is not None and (now or timezone.now()) < expires
    return previous_matches and in_grace


def client_set_enabled(*, client: Application, enabled: bool) -> bool:
    """Enable or disable a client; return whether anything changed.

    A disabled client is refused at the token endpoint, and its existing tokens
    at every API, from the next request on; disabling also revokes them
    (``_revoke_tokens_of_disabled_client``), so enabling it again revives nothing.
    """
    if client.enabled == enabled:
        return False
    client.enabled = enabled
    client.save(update_fields=["enabled", "updated"])
    return True


def _revoke_tokens_of_disabled_client(sender, instance: Application, created: bool, **kwargs) -> None:
    # Every save of a disabled client, however it was made (the admin's form or
    # actions, a management command, Model.save() in a shell): a client is
    # disabled because something is wrong with it, and its tokens must not come
    # back to life when it is enabled again. Idempotent, and cheap when there are
    # none (the usual case: a disabled client gets no new tokens).
    if not created and not instance.enabled:
        tokens_revoke_for_client(client=instance)


def connect_receivers() -> None:
    post_save.connect(
        _revoke_tokens_of_disabled_client,
        sender=Application,
        dispatch_uid="oauthgw.clients.revoke_when_disabled",
    )


def grant_types_parse(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in grants.SERVED]
    if unknown:
        raise ValueError(f"unknown grant types: {', '.join(unknown)} (served: {', '.join(grants.SERVED)})")
    return names
