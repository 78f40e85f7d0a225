import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from oauthgw import token_formats
from oauthgw.issuing.clients import client_create, grant_types_parse
from oauthgw.issuing.password_sunset import password_grant_until_parse
from oauthgw.management.commands.update_client import PASSWORD_GRANT_UNTIL_HELP


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
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help='print {"client_id": ..., "client_secret": ...}'
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
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["as_json"]:
            self.stdout.write(json.dumps({"client_id": client.client_id, "client_secret": secret}))
            return
        self.stdout.write(f"client_id:     {client.client_id}\nclient_secret: {secret}")
        self.stdout.write("Store the secret now: the gateway keeps only its hash and cannot show it again.")
