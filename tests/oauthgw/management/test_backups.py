"""The rules of a backup file, on the test database (SQLite or PostgreSQL, as this run has it).

Round trips through live gateways are in tests/e2e/test_backup_restore.py.
"""

import sqlite3

import pytest
from django.db import connection

from oauthgw.exceptions import BackupError
from oauthgw.management.backups import backup_kind, database_backup, database_restore
from oauthgw.models import Application

pytestmark = pytest.mark.django_db(transaction=True)

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's own locking (this run is PostgreSQL)")
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="pg_dump (this run is SQLite: DATABASE_URL is not PostgreSQL)"
)


def test_a_backup_into_a_directory_gets_a_time_stamped_name_of_its_kind_readable_by_its_owner_only(tmp_path):
    written = database_backup(destination=tmp_path)

    assert written.parent == tmp_path
    assert written.name.startswith("oauthgw-")
    assert backup_kind(written) == connection.vendor
    assert written.stat().st_mode & 0o777 == 0o600
    assert [path.name for path in tmp_path.iterdir()] == [written.name]


def test_a_backup_never_overwrites_a_file(tmp_path):
    existing = tmp_path / "backup"
    existing.write_text("an older backup")

    with pytest.raises(BackupError, match="never overwrites"):
        database_backup(destination=existing)

    assert existing.read_text() == "an older backup"


def test_a_file_that_is_not_a_backup_is_not_restored(tmp_path):
    stray = tmp_path / "notes.sqlite3"
    stray.write_text("not a database")
    Application.objects.create(name="still-here", client_id="still-here")

    with pytest.raises(BackupError, match="is not a backup"):
        database_restore(source=stray, replace=True)

    assert Application.objects.filter(name="still-here").exists()


@sqlite_only
def test_a_sqlite_backup_does_not_wait_for_a_writer_and_holds_only_what_was_committed(tmp_path):
    Application.objects.create(name="committed", client_id="committed")
    writer = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a token request half-way through its transaction
    writer.execute("UPDATE oauthgw_application SET name = 'uncommitted'")
    try:
        written = database_backup(destination=tmp_path)
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    copy = sqlite3.connect(written)
    try:
        names = [name for (name,) in copy.execute("SELECT name FROM oauthgw_application")]
        journal = copy.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        copy.close()
    assert names == ["committed"]
    assert journal == "delete"  # one self-contained file
    assert not list(tmp_path.glob("*-wal"))


@postgresql_only
def test_without_pg_dump_the_backup_says_what_to_install_and_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(BackupError, match="apt-get install postgresql-client"):
        database_backup(destination=tmp_path)

    assert list(tmp_path.iterdir()) == []
