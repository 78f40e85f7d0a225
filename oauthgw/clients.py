"""Registering clients: the only place a raw client secret exists, once."""

from django.db import transaction
from oauth2_provider.generators import generate_client_secret

from oauthgw import grants
from oauthgw.models import Application


def client_secret_generate() -> str:
    return generate_client_secret()


@transaction.atomic
def client_create(
    *,
    name: str,
    grant_types: list[str],
    scopes: list[str],
    default_scopes: list[str] | None = None,
    can_introspect: bool = False,
) -> tuple[Application, str]:
    """Create an enabled client; return it with its secret, which is stored only hashed."""
    secret = client_secret_generate()
    client = Application(
        name=name,
        client_secret=secret,
        grant_types=" ".join(grant_types),
        allowed_scopes=" ".join(scopes),
        default_scopes=" ".join(scopes if default_scopes is None else default_scopes),
        can_introspect=can_introspect,
    )
    client.full_clean(exclude=["client_secret"])
    client.save()
    return client, secret


def grant_types_parse(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in grants.SERVED]
    if unknown:
        raise ValueError(f"unknown grant types: {', '.join(unknown)} (served: {', '.join(grants.SERVED)})")
    return names
