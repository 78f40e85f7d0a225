"""Set up one benchmark database: clients, a resource owner, an access token, refresh tokens.

Run with DJANGO_SETTINGS_MODULE set to the gateway's or the stock settings:

    python -m bench.prepare gateway|stock --refresh-tokens N --out DIR

Writes DIR/credentials.json, DIR/usernames.txt (1000 resource owners, all with one
password) and DIR/refresh_tokens.txt (one raw token per line, each
in its own family, for the refresh_token scenario; DIR/refresh_spare.txt holds a
few more for the query count). Tokens are inserted in bulk with the toolkit's own
checksum and storage rules, so the server finds them exactly as if it had issued
them; clients and users are created through the normal code paths (the stock
secrets and password go through PBKDF2).
"""

import argparse
import hashlib
import json
import secrets
import uuid
from datetime import timedelta
from pathlib import Path

import django

USERS = 1000
PASSWORD = "bench-password-0123456789"
SCOPE = "hello"
SPARE_REFRESH_TOKENS = 20


def usernames() -> list[str]:
    return [f"bench-user-{n}" for n in range(USERS)]


def _raw_token() -> str:
    return secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")


def _gateway_setup() -> dict:
    from oauthgw.issuing.clients import client_create
    from oauthgw.issuing.resource_owners import resource_owner_upsert

    cc, cc_secret = client_create(name="bench-cc", grant_types=["client_credentials"], scopes=[SCOPE])
    pw, pw_secret = client_create(name="bench-pw", grant_types=["password", "refresh_token"], scopes=[SCOPE])
    rs, rs_secret = client_create(
        name="bench-introspect", grant_types=["client_credentials"], scopes=[SCOPE], can_introspect=True
    )
    # Seen before, as returning users are: the first login of a subject also creates its row.
    owners = [resource_owner_upsert(authorization_server="default", subject=name) for name in usernames()]
    return {
        "clients": {
            "client_credentials": (cc, cc_secret),
            "password": (pw, pw_secret),
            "introspection": (rs, rs_secret),
        },
        "user": owners[0],
    }


def _stock_setup() -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from oauth2_provider.models import get_application_model

    application = get_application_model()

    def create(name: str, grant: str) -> tuple:
        secret = _raw_token() + _raw_token()
        app = application.objects.create(
            name=name,
            client_type=application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=grant,
            client_secret=secret,
        )
        return app, secret

    cc = create("bench-cc", application.GRANT_CLIENT_CREDENTIALS)
    pw = create("bench-pw", application.GRANT_PASSWORD)
    # One PBKDF2 hash for all: the same cost per login as distinct hashes, without 1000 x 0.3 s here.
    hashed = make_password(PASSWORD)
    user_model = get_user_model()
    users = user_model.objects.bulk_create([user_model(username=name, password=hashed) for name in usernames()])
    user = users[0]
    # Stock introspection authenticates any client; the client_credentials one is used.
    return {"clients": {"client_credentials": cc, "password": pw, "introspection": cc}, "user": user}


def _insert_tokens(*, application, user, count: int, with_refresh: bool, lifetime: timedelta) -> list[str]:
    from django.utils import timezone
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model
    from oauth2_provider.settings import oauth2_settings

    hashed_storage = oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE
    access_model, refresh_model = get_access_token_model(), get_refresh_token_model()
    expires = timezone.now() + lifetime

    def stored(raw: str) -> dict:
        return {"token": "" if hashed_storage else raw, "token_checksum": hashlib.sha256(raw.encode()).hexdigest()}

    access_raw = [_raw_token() for _ in range(count)]
    access_tokens = access_model.objects.bulk_create(
        [
            access_model(user=user, application=application, expires=expires, scope=SCOPE, **stored(raw))
            for raw in access_raw
        ],
        batch_size=2000,
    )
    if not with_refresh:
        return access_raw
    refresh_raw = [_raw_token() for _ in range(count)]
    refresh_model.objects.bulk_create(
        [
            refresh_model(
                user=user, application=application, access_token=access, token_family=uuid.uuid4(), **stored(raw)
            )
            for raw, access in zip(refresh_raw, access_tokens, strict=True)
        ],
        batch_size=2000,
    )
    return refresh_raw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["gateway", "stock"])
    parser.add_argument("--refresh-tokens", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    django.setup()

    setup = _gateway_setup() if args.kind == "gateway" else _stock_setup()
    clients = setup["clients"]
    cc_app = clients["client_credentials"][0]
    pw_app = clients["password"][0]
    (bearer,) = _insert_tokens(application=cc_app, user=None, count=1, with_refresh=False, lifetime=timedelta(days=1))
    refresh = _insert_tokens(
        application=pw_app,
        user=setup["user"],
        count=args.refresh_tokens + SPARE_REFRESH_TOKENS,
        with_refresh=True,
        lifetime=timedelta(hours=1),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "refresh_tokens.txt").write_text("\n".join(refresh[SPARE_REFRESH_TOKENS:]) + "\n")
    (args.out / "refresh_spare.txt").write_text("\n".join(refresh[:SPARE_REFRESH_TOKENS]) + "\n")
    credentials = {
        name: {"client_id": app.client_id, "client_secret": secret} for name, (app, secret) in clients.items()
    }
    (args.out / "usernames.txt").write_text("\n".join(usernames()) + "\n")
    credentials["resource_owner"] = {"username": usernames()[0], "password": PASSWORD}
    credentials["access_token"] = bearer
    (args.out / "credentials.json").write_text(json.dumps(credentials, indent=2))


if __name__ == "__main__":
    main()
