"""``update_client CLIENT --option VALUE ...``: change settings of an existing client; only those given change.

Each setting is one ``Setting``: its option, how an operator's text becomes a
value, the service that applies it, and the sentence that says what it now
means. Another setting is another entry in ``SETTINGS``.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.management.base import BaseCommand, CommandError

from oauthgw.issuing.clients import client_by_id_or_name
from oauthgw.issuing.dpop import client_dpop_set, dpop_mode_described, dpop_mode_parse
from oauthgw.issuing.password_sunset import (
    password_grant_sunset_described,
    password_grant_until_parse,
    password_grant_until_set,
)
from oauthgw.management.commands.enable_client import CLIENT_HELP
from oauthgw.models import Application

PASSWORD_GRANT_UNTIL_HELP = (
    "the last day (UTC) of the client's password grant, YYYY-MM-DD: until then its password-grant answers carry "
    "Deprecation and Sunset headers and a link to the migration guide; from 00:00 UTC the next day they are "
    "refused (unauthorized_client); none: no such day"
)


DPOP_HELP = (
    "DPoP (RFC 9449) for its tokens: optional (a token request with a DPoP proof gets a DPoP-bound token, the "
    "default), required (no token without a proof) or off (the DPoP header is ignored)"
)


@dataclass(frozen=True)
class Setting:
    option: str
    metavar: str
    help: str
    parse: Callable[[str], object]
    # Applies the value; returns whether anything changed.
    apply: Callable[[Application, object], bool]
    describe: Callable[[Application], str]

    @property
    def dest(self) -> str:
        return self.option.removeprefix("--").replace("-", "_")


SETTINGS = (
    Setting(
        option="--password-grant-until",
        metavar="YYYY-MM-DD|none",
        help=PASSWORD_GRANT_UNTIL_HELP,
        parse=password_grant_until_parse,
        apply=lambda client, value: password_grant_until_set(client=client, until=value),
        describe=password_grant_sunset_described,
    ),
    Setting(
        option="--dpop",
        metavar="required|optional|off",
        help=DPOP_HELP,
        parse=dpop_mode_parse,
        apply=lambda client, value: client_dpop_set(client=client, mode=value),
        describe=dpop_mode_described,
    ),
)


class Command(BaseCommand):
    help = (
        "Change settings of a client, named by its client id or its name; only the options given change. "
        "Acts from the next request on, in every gateway process and instance."
    )

    def add_arguments(self, parser):
        parser.add_argument("client", help=CLIENT_HELP)
        for setting in SETTINGS:
            parser.add_argument(setting.option, dest=setting.dest, metavar=setting.metavar, help=setting.help)

    def handle(self, *args, **options):
        given = [setting for setting in SETTINGS if options[setting.dest] is not None]
        if not given:
            raise CommandError(f"Nothing to change: give {' or '.join(setting.option for setting in SETTINGS)}.")
        try:
            # Every value is read before anything changes: one bad value changes nothing.
            values = [(setting, setting.parse(options[setting.dest])) for setting in given]
            client = client_by_id_or_name(options["client"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for setting, value in values:
            unchanged = "" if setting.apply(client, value) else " (unchanged)"
            self.stdout.write(f"{client.name} ({client.client_id}){unchanged}: {setting.describe(client)}.")
