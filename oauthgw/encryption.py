"""Secrets the gateway must read back, encrypted at rest.

A client's own secret is only ever compared, so it is stored hashed
(``oauthgw.hashers``). A secret the gateway sends somewhere (its client secret at
an authorization server; later an upstream refresh token, a signing key) must be
recoverable, so it is stored encrypted: Fernet (AES-128-CBC with HMAC-SHA256,
from the ``cryptography`` package), which authenticates what it decrypts, so a
changed ciphertext is refused rather than decrypted to garbage.

Keys come from ``OAUTHGW_ENCRYPTION_KEYS``: comma-separated Fernet keys, newest
first. The newest encrypts; any of them decrypts, so a key can be rotated without
downtime (docs/operations.md, "Rotating the encryption key"). Without the setting,
for development only, a key is derived from ``SECRET_KEY`` and ``check --deploy``
warns (``oauthgw.W005``).

A model stores ciphertext in an ``EncryptedTextField`` and offers the plaintext
through ``encrypted_property``; ``stored_secrets_reencrypt`` walks every such
field, which is all ``manage.py rotate_encryption_key`` does.
"""

import base64
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.db import models, transaction

from oauthgw.conf import gateway_settings
from oauthgw.exceptions import DecryptionError, EncryptionKeyError

GENERATE_KEY_COMMAND = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
_DEVELOPMENT_KEY_INFO = b"oauthgw encryption key for development"


def configured_keys() -> list[str]:
    """The entries of ``OAUTHGW_ENCRYPTION_KEYS``, newest first (empty when unset)."""
    return [key.strip() for key in gateway_settings.ENCRYPTION_KEYS.split(",") if key.strip()]


def malformed_key_positions(keys: list[str]) -> list[int]:
    """The 1-based positions of the entries that are not Fernet keys (never the keys themselves)."""
    malformed = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            malformed.append(position)
    return malformed


def development_key(secret_key: str) -> bytes:
    """A Fernet key derived from ``secret_key``: for development, where no key is configured."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DEVELOPMENT_KEY_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode("utf-8")))


@dataclass(frozen=True)
class _Keyring:
    newest: Fernet
    # Every configured key, newest first: what decrypts.
    all: MultiFernet
    # For the rotation command only: the configured keys and the development
    # ones, so values written before OAUTHGW_ENCRYPTION_KEYS was set move over.
    sources: MultiFernet


@functools.lru_cache(maxsize=8)
def _keyring(keys: tuple[str, ...], secret_keys: tuple[str, ...]) -> _Keyring:
    # SECRET_KEY first, then its fallbacks: rotating SECRET_KEY in development
    # keeps what the old one encrypted readable.
    development = [Fernet(development_key(secret)) for secret in secret_keys]
    if not keys:
        return _Keyring(newest=development[0], all=MultiFernet(development), sources=MultiFernet(development))
    malformed = malformed_key_positions(list(keys))
    if malformed:
        raise EncryptionKeyError(f"OAUTHGW_ENCRYPTION_KEYS: the entries at positions {malformed} are not Fernet keys.")
    configured = [Fernet(key) for key in keys]
    return _Keyring(newest=configured[0], all=MultiFernet(configured), sources=MultiFernet(configured + development))


def _current() -> _Keyring:
    # Cached per configuration but looked up on each call, so overridden settings
    # (tests, a reload) take effect at once.
    secret_keys = (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    return _keyring(tuple(configured_keys()), secret_keys)


def encrypt(plaintext: str) -> str:
    """Ciphertext of ``plaintext`` under the newest key (different each time: a random IV)."""
    return _current().newest.encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """The plaintext of ``token``; raise ``DecryptionError`` if no configured key opens it."""
    try:
        return _current().all.decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionError("no configured encryption key opens this value") from exc


def reencrypt(token: str) -> str | None:
    """``token`` under the newest key, or None if it already is; raise ``DecryptionError``.

    Also opens values written under the development key, so a deployment that
    ran without ``OAUTHGW_ENCRYPTION_KEYS`` can move to configured keys.
    """
    keyring = _current()
    try:
        keyring.newest.decrypt(token.encode("ascii"))
        return None
    except (InvalidToken, UnicodeError):
        pass
    try:
        plaintext = keyring.sources.decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionError("no configured encryption key opens this value") from exc
    return keyring.newest.encrypt(plaintext).decode("ascii")


class EncryptedTextField(models.TextField):
    """A column that holds Fernet ciphertext; the model reads it through ``encrypted_property``.

    Never editable in a form (the admin must not render ciphertext); marks the
    column for ``stored_secrets_reencrypt``.
    """

    def __init__(self, *args, **kwargs):
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        return name, path, args, kwargs


def encrypted_property(field_name: str) -> property:
    """The plaintext of the ``EncryptedTextField`` ``field_name``: "" stays "", anything else is encrypted.

    Reading raises ``DecryptionError`` when no configured key opens the value.
    A property, so ``Model(secret=...)`` and ``objects.create(secret=...)`` work.
    """

    def get(instance) -> str:
        token = getattr(instance, field_name)
        return decrypt(token) if token else ""

    def set_(instance, plaintext: str) -> None:
        setattr(instance, field_name, encrypt(plaintext) if plaintext else "")

    return property(get, set_, doc=f"The plaintext of {field_name}.")


@dataclass
class ReencryptionReport:
    """What ``stored_secrets_reencrypt`` did, per model field; never a value."""

    reencrypted: int = 0
    current: int = 0
    empty: int = 0
    # "app_label.Model pk=… field" of each value no configured key opens.
    undecryptable: list[str] = field(default_factory=list)


def _encrypted_fields() -> Iterator[tuple[type[models.Model], list[str]]]:
    for model in apps.get_models():
        names = [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            yield model, names


def stored_secrets_unreadable(*, using: str = "default") -> list[str]:
    """``"app_label.Model pk=… field"`` of every stored secret no configured key opens; reads only."""
    unreadable = []
    for model, names in _encrypted_fields():
        label = model._meta.label
        for row in model._default_manager.using(using).values("pk", *names).order_by("pk").iterator():
            for name in names:
                if row[name]:
                    try:
                        decrypt(row[name])
                    except DecryptionError:
                        unreadable.append(f"{label} pk={row['pk']} {name}")
    return unreadable


def stored_secrets_reencrypt() -> ReencryptionReport:
    """Re-encrypt every stored secret under the newest key; idempotent.

    Each row is locked while it is rewritten, so a concurrent save is neither
    lost nor overwritten with an older value. A value no key opens is left as it
    is and reported.
    """
    report = ReencryptionReport()
    for model, names in _encrypted_fields():
        label = model._meta.label
        for pk in model._default_manager.values_list("pk", flat=True).order_by("pk"):
            with transaction.atomic():
                row = model._default_manager.select_for_update().filter(pk=pk).values(*names).first()
                if row is None:
                    continue  # deleted meanwhile
                changes = {}
                for name in names:
                    token = row[name]
                    if not token:
                        report.empty += 1
                        continue
                    try:
                        fresh = reencrypt(token)
                    except DecryptionError:
                        report.undecryptable.append(f"{label} pk={pk} {name}")
                        continue
                    if fresh is None:
                        report.current += 1
                    else:
                        changes[name] = fresh
                        report.reencrypted += 1
                if changes:
                    # update(), not save(): only these columns, no auto_now bump.
                    model._default_manager.filter(pk=pk).update(**changes)
    return report
