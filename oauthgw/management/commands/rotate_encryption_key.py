from django.core.management.base import BaseCommand, CommandError

from oauthgw.encryption import configured_keys, stored_secrets_reencrypt
from oauthgw.exceptions import EncryptionKeyError


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the newest OAUTHGW_ENCRYPTION_KEYS key (the first). "
        "Idempotent. See docs/operations.md, 'Rotating the encryption key'."
    )

    def handle(self, *args, **options):
        if not configured_keys():
            self.stderr.write(
                "OAUTHGW_ENCRYPTION_KEYS is not set: re-encrypting with the development key derived from SECRET_KEY."
            )
        try:
            report = stored_secrets_reencrypt()
        except EncryptionKeyError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Re-encrypted {report.reencrypted} stored secrets with the newest key; "
            f"{report.current} already used it; {report.empty} empty."
        )
        if report.undecryptable:
            for where in report.undecryptable:
                self.stderr.write(f"No configured key opens {where}: left as it is; enter that secret again.")
            raise CommandError(f"{len(report.undecryptable)} stored secrets could not be decrypted.")
