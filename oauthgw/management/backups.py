"""Consistent copies of the gateway's database, taken while it serves, and their restore.

- **SQLite**: SQLite's online backup API, in one step: the copy is the database as of
  one commit, read in one read transaction while writers go on (WAL). Copying the
  file of a live WAL database is not a backup: the latest commits are still in the
  ``-wal`` file, and a copy taken mid-checkpoint is torn.
- **PostgreSQL**: ``pg_dump --format=custom`` (one snapshot), restored by
  ``pg_restore`` in one transaction.

A backup file is written under a temporary name, made readable by its owner only,
synced, then renamed: a backup that failed half-way never carries a backup's name.

A restore never destroys what it replaces: into a database that holds tables it
refuses, unless told ``replace``; then it first backs up what is there, next to the
backup being restored.

Neither holds the keys the database needs (``OAUTHGW_ENCRYPTION_KEYS``,
``DJANGO_SECRET_KEY``): they are kept apart (docs/operations.md, "Backups"). A restore
says which stored secrets the configured keys cannot open.
"""

import os
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.core.cache import cache
from django.db import DatabaseError, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.encryption import stored_secrets_unreadable
from oauthgw.exceptions import BackupError
from oauthgw.models import Application, UpstreamSession

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
SUFFIXES = {SQLITE: ".sqlite3", POSTGRESQL: ".pgdump"}
# Seconds a SQLite connection of a backup or restore waits for a lock (a checkpoint, a writer).
SQLITE_BUSY_TIMEOUT = 30
PG_TOOL_TIMEOUT = 3600


def engine(using: str = "default") -> str:
    vendor = connections[using].vendor
    if vendor not in SUFFIXES:
        raise BackupError(f"backups of a {vendor} database are not supported: SQLite and PostgreSQL are")
    return vendor


def backup_name(vendor: str, *, now: datetime | None = None, label: str = "") -> str:
    """``oauthgw-20261207T031500Z.sqlite3``: sorts by time, and says which tool restores it."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"oauthgw-{moment}{label}{SUFFIXES[vendor]}"


# The first bytes of each kind of backup file.
_MAGIC = {SQLITE: b"SQLite format 3\x00", POSTGRESQL: b"PGDMP"}


def backup_kind(path: Path) -> str | None:
    """``sqlite`` or ``postgresql`` by the file's first bytes (whatever its name), else None."""
    with open(path, "rb") as file:
        head = file.read(16)
    return next((vendor for vendor, magic in _MAGIC.items() if head.startswith(magic)), None)


def database_backup(*, destination: Path, using: str = "default") -> Path:
    """Write a consistent copy of the database to ``destination`` (a file, or a directory
    to put a time-stamped file in); return the file written."""
    vendor = engine(using)
    destination = Path(destination)
    if destination.is_dir():
        destination = destination / backup_name(vendor)
    if destination.exists():
        raise BackupError(f"{destination} exists: a backup never overwrites a file")
    partial = destination.with_name(destination.name + ".partial")
    # Created here, not by the tool: owner-only from the first byte (hashes, ciphertexts,
    # usernames in the audit trail), and by this backup alone (another one taken the same
    # second fails here).
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        if vendor == SQLITE:
            try:
                _sqlite_backup(connections[using].settings_dict["NAME"], partial)
            except sqlite3.Error as exc:
                raise BackupError(f"{connections[using].settings_dict['NAME']}: {exc}") from exc
        else:
            _pg_run(["pg_dump", "--format=custom", f"--file={partial}"], connections[using].settings_dict)
        _sync(partial)
        partial.replace(destination)
        _sync(destination.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return destination


@dataclass
class RestoreReport:
    """What ``database_restore`` did and found: counts, never a value."""

    source: Path
    replaced_backup: Path | None = None
    clients: int = 0
    live_access_tokens: int = 0
    live_refresh_tokens: int = 0
    sessions: int = 0
    pending_migrations: list[str] = field(default_factory=list)
    # False when the restored tables are too old for this code's models to count (migrate first).
    described: bool = True
    # "app_label.Model pk=… field" of each stored secret the configured keys do not open.
    unreadable_secrets: list[str] = field(default_factory=list)


def database_restore(*, source: Path, replace: bool = False, using: str = "default") -> RestoreReport:
    """Restore the backup ``source`` into the configured database; the gateway must be stopped.

    The database must hold no tables, unless ``replace``: then what it holds is first
    backed up next to ``source`` (``report.replaced_backup``).
    """
    vendor = engine(using)
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    kind = backup_kind(source)
    if kind != vendor:
        raise BackupError(
            f"{source} is {f'a {kind} backup' if kind else 'not a backup'}, and the database is {vendor}: "
            "restore a backup of the same kind of database"
        )
    report = RestoreReport(source=source)
    connection = connections[using]
    tables = connection.introspection.table_names()
    if tables:
        if not replace:
            raise BackupError(
                f"the database {connection.settings_dict['NAME']} holds {len(tables)} tables: restore into a new, "
                "empty database, or pass --replace (what it holds is backed up first)"
            )
        report.replaced_backup = database_backup(
            destination=source.parent / backup_name(vendor, label="-replaced"), using=using
        )
    connection.close()
    try:
        if vendor == SQLITE:
            _sqlite_restore(source, connection.settings_dict["NAME"])
        else:
            _pg_restore(source, using, replace=bool(tables))
    except sqlite3.Error as exc:
        raise BackupError(f"{connection.settings_dict['NAME']}: {exc}") from exc
    except BackupError as exc:
        if report.replaced_backup:
            raise BackupError(f"{exc}; what the database held before is in {report.replaced_backup}") from exc
        raise
    finally:
        connection.close()
    # Cached tokens and tombstones of the other timeline must not outlive it (with Redis).
    cache.clear()
    _describe(report, using)
    return report


def _describe(report: RestoreReport, using: str) -> None:
    executor = MigrationExecutor(connections[using])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    report.pending_migrations = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    try:
        now = timezone.now()
        report.clients = Application.objects.using(using).count()
        report.live_access_tokens = get_access_token_model().objects.using(using).filter(expires__gt=now).count()
        report.live_refresh_tokens = get_refresh_token_model().objects.using(using).filter(revoked__isnull=True).count()
        report.sessions = UpstreamSession.objects.using(using).count()
        report.unreadable_secrets = stored_secrets_unreadable(using=using)
    except DatabaseError:
        # An older release's tables lack a column this code's models read: migrate first.
        report.described = False


# --- SQLite ------------------------------------------------------------------------------------


def _sqlite_backup(database: str, destination: Path) -> None:
    if not Path(database).is_file():
        raise BackupError(f"there is no database at {database}")
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT)
    target = sqlite3.connect(destination)
    try:
        # pages=-1: everything in one step, so one read transaction (one commit's state) and
        # no restart when a writer commits meanwhile, which a step-wise copy would do for ever
        # on a busy gateway.
        source.backup(target, pages=-1)
        # A single self-contained file: no -wal beside it when it is read.
        target.execute("PRAGMA journal_mode=DELETE")
        _sqlite_verify(target, destination)
    finally:
        target.close()
        source.close()


def _sqlite_restore(source: Path, database: str) -> None:
    backup = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        _sqlite_verify(backup, source)
        # Through the target's own connection: its -wal (if any) is honoured and replaced in
        # one write transaction. Copying a file over it could meet a stale -wal that SQLite
        # would replay into the restored pages.
        target = sqlite3.connect(database, timeout=SQLITE_BUSY_TIMEOUT)
        try:
            backup.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
    finally:
        backup.close()


def _sqlite_verify(connection: sqlite3.Connection, path: Path) -> None:
    try:
        verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite database: {exc}") from exc
    if verdict != "ok":
        raise BackupError(f"{path} is damaged: {verdict}")


# --- PostgreSQL --------------------------------------------------------------------------------

# Connection options dj-database-url puts in OPTIONS, and the libpq variables that carry them.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def _libpq_environment(settings_dict: dict) -> dict[str, str]:
    """The database's connection as libpq variables: the password stays out of the command line.

    Added to the inherited environment, as ``manage.py dbshell`` does.
    """
    values = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
    }
    options = settings_dict.get("OPTIONS", {})
    values.update({variable: options.get(option) for option, variable in _LIBPQ_OPTIONS.items()})
    return {**os.environ, **{name: str(value) for name, value in values.items() if value not in (None, "")}}


def _pg_run(command: list[str], settings_dict: dict) -> None:
    try:
        finished = subprocess.run(  # noqa: S603 (pg_dump or pg_restore, arguments built here, no shell)
            command, env=_libpq_environment(settings_dict), capture_output=True, text=True, timeout=PG_TOOL_TIMEOUT
        )
    except FileNotFoundError as exc:
        raise BackupError(
            f"{command[0]} is not installed: apt-get install postgresql-client (of the server's major version or newer)"
        ) from exc
    if finished.returncode != 0:
        raise BackupError(f"{command[0]} failed: {finished.stderr.strip()}")


def _pg_restore(source: Path, using: str, *, replace: bool) -> None:
    connection = connections[using]
    if replace:
        # Everything the gateway created lives in the public schema, which its owner (the
        # database's owner since PostgreSQL 15) may drop and create again. Tables of a newer
        # release go too, which pg_restore --clean would leave behind.
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        connection.close()
    # One transaction: a restore that fails adds nothing. Owners and grants become the
    # restoring user's, so a backup restores into a database that another role owns.
    command = ["pg_restore", "--exit-on-error", "--single-transaction", "--no-owner", "--no-acl"]
    command += [f"--dbname={connection.settings_dict['NAME']}", str(source)]
    _pg_run(command, connection.settings_dict)


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
