import json
import os
from pathlib import Path

from django.contrib.auth.hashers import check_password
from django.core.management.base import BaseCommand

from oauthgw import grants
from oauthgw.issuing.clients import client_secret_generate
from oauthgw.models import Application

DEMO_NAME = "local-demo"
# The authorization code flow's demo: a public client (no secret), as a native or browser app is.
WEB_DEMO_NAME = "local-demo-web"
# What local-demo may do: everything but the authorization code, which needs redirect URIs.
DEMO_GRANTS = (grants.PASSWORD, grants.REFRESH_TOKEN, grants.CLIENT_CREDENTIALS)


def _remembered(path: Path | None) -> tuple[str, str] | None:
    """(client_id, secret) from the credentials file, or None if there is no usable one."""
    if path is None or not path.exists():
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return stored["client_id"], stored["client_secret"]
    except (ValueError, KeyError, TypeError):
        return None


def _remember(path: Path, client_id: str, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Readable by its owner only: it holds a working secret.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump({"client_id": client_id, "client_secret": secret}, file)


class Command(BaseCommand):
    help = (
        "Development only: make sure the client 'local-demo' exists (all grants, scope hello) and print its "
        "key and secret. With --credentials-file the same secret is kept across runs in that file (mode 600); "
        "without it, or when the file no longer matches the database, the client gets a fresh secret."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json")
        parser.add_argument("--credentials-file", type=Path, default=None)
        parser.add_argument(
            "--web-redirect-uri",
            default=None,
            help=f"also make sure the public client '{WEB_DEMO_NAME}' exists (authorization code with PKCE, "
            "refresh token) with this redirect URI; its client id is printed as web_client_id",
        )

    def handle(self, *args, **options):
        path = options["credentials_file"]
        client = Application.objects.filter(name=DEMO_NAME).first() or Application(name=DEMO_NAME)
        remembered = _remembered(path)
        if (
            remembered
            and client.pk
            and remembered[0] == client.client_id
            and check_password(remembered[1], client.client_secret)
        ):
            secret = remembered[1]
        else:
            secret = client_secret_generate()
            client.client_secret = secret
        client.enabled = True
        client.grant_types = " ".join(DEMO_GRANTS)
        client.allowed_scopes = client.default_scopes = "hello"
        client.save()
        if path is not None:
            _remember(path, client.client_id, secret)
        printed = {"client_id": client.client_id, "client_secret": secret}
        if options["web_redirect_uri"]:
            printed["web_client_id"] = self._web_client(options["web_redirect_uri"]).client_id
        if options["as_json"]:
            self.stdout.write(json.dumps(printed))
        else:
            self.stdout.write("\n".join(f"{name + ':':14} {value}" for name, value in printed.items()))

    def _web_client(self, redirect_uri: str) -> Application:
        """The code flow's demo client, the same client id on every start."""
        client = Application.objects.filter(name=WEB_DEMO_NAME).first() or Application(
            name=WEB_DEMO_NAME, client_secret=client_secret_generate()
        )
        client.enabled = True
        client.client_type = Application.CLIENT_PUBLIC
        client.grant_types = f"{grants.AUTHORIZATION_CODE} {grants.REFRESH_TOKEN}"
        client.allowed_scopes = client.default_scopes = "hello"
        client.redirect_uris = redirect_uri
        # The organisation's own app in this demo: no consent page (prompt=consent shows it).
        client.skip_authorization = True
        client.description = (
            "make run's demo of the authorization code flow with PKCE (README, 'Sign in with a browser')."
        )
        client.full_clean(exclude=["client_secret"])
        client.save()
        return client
