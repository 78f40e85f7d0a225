import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from oauthgw import token_formats
from oauthgw.issuing.clients import client_create, grant_types_parse
from oauthgw.issuing.password_sunset import password_grant_until_parse
from oauthgw.management.commands.update_client import DPOP_HELP, PASSWORD_GRANT_UNTIL_HELP
from oauthgw.models import DPOP_MODES, DPOP_OPTIONAL


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Command(BaseCommand):
    help = "Register a client and print its key and secret. The secret is shown only this once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--grant-types", default="password,refresh_token", help="comma-separated")
        parser.add_argument("--scopes", default="hello", help="comma-separated scopes the client may request")
        parser.add_argument("--default-scopes", default=None, help="comma-separated; default: all of --scopes")
        parser.add_argument("--can-introspect", action="store_true", help="may call the introspection endpoint")
        parser.add_argument(
            "--token-format",
            choices=[name for name, _ in token_formats.CHOICES],
            default=token_formats.OPAQUE,
            help="opaque (default: APIs ask the gateway) or jwt (RFC 9068: APIs verify tokens alone)",
        )
        parser.add_argument(
            "--audience",
            default="",
            help="aud values of its JWT access tokens, separated by commas or spaces; default: the gateway's",
        )
        parser.add_argument(
            "--password-grant-until", metavar="YYYY-MM-DD", default="none", help=PASSWORD_GRANT_UNTIL_HELP
        )
        parser.add_argument("--dpop", choices=[mode for mode, _ in DPOP_MODES], default=DPOP_OPTIONAL, help=DPOP_HELP)
        parser.add_argument(
            "--redirect-uris",
            default="",
            help="comma-separated; where the login page may send users back (authorization_code), each compared "
            "as the exact string",
        )
        parser.add_argument(
            "--public",
            action="store_true",
            help="a native or browser app: no secret, client_id in the token request, authorization_code and "
            "refresh_token only",
        )
        parser.add_argument(
            "--skip-consent",
            action="store_true",
            help="first-party: signed-in users go straight through, without the consent page",
        )
        parser.add_argument("--allowed-origins", default="", help="comma-separated web origins of a browser app (CORS)")
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help='print {"client_id": ..., "client_secret": ...} (no client_secret for a public client)',
        )

    def handle(self, *args, **options):
        default_scopes = options["default_scopes"]
        try:
            client, secret = client_create(
                name=options["name"],
                grant_types=grant_types_parse(options["grant_types"]),
                scopes=_split(options["scopes"]),
                default_scopes=None if default_scopes is None else _split(default_scopes),
                can_introspect=options["can_introspect"],
                token_format=options["token_format"],
                audience=token_formats.audience_values(options["audience"]),
                password_grant_until=password_grant_until_parse(options["password_grant_until"]),
                public=options["public"],
                redirect_uris=_split(options["redirect_uris"]),
                allowed_origins=_split(options["allowed_origins"]),
                skip_authorization=options["skip_consent"],
                dpop=options["dpop"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["as_json"]:
            printed = {"client_id": client.client_id}
            if secret is not None:
                printed["client_secret"] = secret
            self.stdout.write(json.dumps(printed))
            return
        if secret is None:
            self.stdout.write(f"client_id:     {client.client_id}\n(a public client: no secret)")
            return
        self.stdout.write(f"client_id:     {client.client_id}\nclient_secret: {secret}")
        self.stdout.write("Store the secret now: the gateway keeps only its hash and cannot show it again.")
