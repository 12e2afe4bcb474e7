"""Backup and restore of a SQLite database: consistent copies while another process keeps writing,
restore through the backup API, refusals; the pg_dump command for PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from sqlalchemy import select

from crm_tui.db import open_database
from crm_tui.errors import InvalidInput, SchemaError
from crm_tui.models import AuditEvent
from crm_tui.services import backup, contacts, users
from crm_tui.services.common import system_actor
from tests.unit import proc_workers

WRITES_BEFORE_BACKUP = 20


def keep_writing(url: str, started, stop, queue) -> None:
    """A teammate: adds contacts (each with an email) one transaction at a time until told to stop."""
    try:
        db = open_database(url, migrate=False)
        with db.write() as s:
            actor = users.actor_for(s, login="writer")
        n = 0
        while not stop.is_set():
            with db.write() as s:
                contacts.create_contact(s, data={"first_name": f"W{n}", "emails": [f"w{n}@example.org"]},
                                        actor=actor)
            n += 1
            if n == WRITES_BEFORE_BACKUP:
                started.set()
        db.dispose()
        queue.put(n)
    except BaseException as exc:  # noqa: BLE001 - the parent asserts on what we report
        started.set()
        queue.put(f"{type(exc).__name__}: {exc}")


def _contact_rows(path) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    try:
        return (conn.execute("SELECT count(*) FROM contacts").fetchone()[0],
                conn.execute("SELECT count(*) FROM contact_emails").fetchone()[0],
                conn.execute("SELECT count(*) FROM contacts_fts").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.slow
def test_backups_during_concurrent_writes_are_whole_and_pass_integrity_check(tmp_path, sqlite_template):
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    ctx = proc_workers.context()
    started, stop, queue = ctx.Event(), ctx.Event(), ctx.Queue()
    writer = proc_workers.process(ctx, keep_writing, (url, started, stop, queue))
    writer.start()
    try:
        assert started.wait(60)
        db = open_database(url, migrate=False)
        try:
            copies = [backup.backup_sqlite(db, tmp_path / f"copy{i}.db", actor=system_actor()) for i in range(3)]
        finally:
            db.dispose()
    finally:
        stop.set()
        writer.join(60)
    written = queue.get(timeout=10)
    assert isinstance(written, int), written
    counts = []
    for copy in copies:
        conn = sqlite3.connect(copy.path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
        conn.close()
        n_contacts, n_emails, n_indexed = _contact_rows(copy.path)
        # each contact went in with its email and index entry in one transaction: never half of one
        assert n_contacts == n_emails == n_indexed
        counts.append(n_contacts)
        assert copy.revision == backup.inspect_backup(copy.path)
        assert (copy.path.stat().st_mode & 0o777) == 0o600
    assert WRITES_BEFORE_BACKUP <= counts[0] <= counts[-1] <= written
    assert not list(tmp_path.glob(".*partial*"))


def test_restore_puts_the_backup_back_and_refuses_what_it_cannot(tmp_path, sqlite_template, now):
    path = tmp_path / "crm.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    db = open_database(url)
    with db.write() as s:
        actor = users.actor_for(s, login="ann", now=now)
        contacts.create_contact(s, data={"first_name": "Kept"}, actor=actor, now=now)
    saved = backup.backup_sqlite(db, tmp_path / "saved.db", actor=actor)
    with pytest.raises(InvalidInput, match="exists"):
        backup.backup_sqlite(db, saved.path, actor=actor)
    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Later"}, actor=actor, now=now)
    backup.restore_sqlite(db, saved.path, actor=actor, known_revisions=backup.known_revisions())
    with db.read() as s:  # the open engine sees the restored data
        assert [r.full_name for r in contacts.list_contacts(s).items] == ["Kept"]
    backup.record_restore(db, backup=saved.path, revision="0008", actor=actor, now=now)
    with db.read() as s:  # and its history says who put it back, from what
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (event.entity, event.action, event.actor, event.actor_id) == ("database", "restore", "ann", actor.user_id)
        assert event.new_value == "restored from saved.db (schema 0008)"
    with pytest.raises(SchemaError, match="newer"):
        backup.restore_sqlite(db, saved.path, actor=actor, known_revisions={"0001"})
    db.dispose()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(InvalidInput):
        backup.inspect_backup(junk)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(InvalidInput, match="not a crm database"):
        backup.inspect_backup(empty)


def test_postgres_gets_the_pg_dump_command_without_the_password():
    dump, restore = backup.pg_commands("postgresql+psycopg://crm:s3cret@db.internal:5433/crm", "/tmp/my crm.dump")
    assert dump == ("pg_dump --format=custom --no-owner --file='/tmp/my crm.dump' "
                    "--dbname=postgresql://crm@db.internal:5433/crm")
    assert restore.startswith("pg_restore --clean --if-exists --no-owner --single-transaction ")
    assert "s3cret" not in dump + restore
    assert backup.sqlite_path("postgresql+psycopg://x@h/db") is None
