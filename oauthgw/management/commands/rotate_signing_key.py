from django.core.management.base import BaseCommand

from oauthgw.issuing.key_rotation import signing_key_rotate


class Command(BaseCommand):
    help = (
        "Publish a new key for JWT access tokens; it signs after OAUTHGW_SIGNING_KEY_PUBLISH_SECONDS, and the "
        "current key stays published until its last token has expired. Keys no longer published are deleted. "
        "See docs/operations.md, 'Rotating the signing key'."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--compromised",
            action="store_true",
            help="the current key leaked: sign with the new key at once and unpublish every other key now",
        )

    def handle(self, *args, **options):
        rotation = signing_key_rotate(compromised=options["compromised"])
        key = rotation.key
        self.stdout.write(
            f"New key {key.kid} ({key.algorithm}): published now, signs from {key.signing_from:%Y-%m-%d %H:%M:%S %Z}."
        )
        if rotation.previous_published_until is not None:
            self.stdout.write(
                f"The previous key stays published until {rotation.previous_published_until:%Y-%m-%d %H:%M:%S %Z}."
            )
        if rotation.deleted:
            self.stdout.write(f"Deleted {rotation.deleted} key(s) no longer published.")
