"""Backups of a live SQLite database with SQLite's online backup API (a consistent copy while
teammates keep writing), restore from one, and the pg_dump / pg_restore commands for PostgreSQL.
Backing up and restoring need the "data.backup" permission (admins by default)."""

from __future__ import annotations

import shlex
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.db import Database
from crm_tui.errors import InvalidInput, SchemaError, StorageError
from crm_tui.models import User
from crm_tui.services import files, permissions
from crm_tui.services.common import Actor, audit

BUSY_TIMEOUT_S = 30


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    revision: str | None
    check: str  # which PRAGMA passed: quick_check or integrity_check


def require_backup(session: Session, actor: Actor) -> None:
    """Refuse unless the actor may back up and restore the database (a copy holds every record)."""
    permissions.require(session, actor, "data.backup")


def _check_allowed(db: Database, actor: Actor) -> Path:
    """The permission, read from the database itself in a short read, then the file to work on."""
    with db.read() as session:
        require_backup(session, actor)
    path = sqlite_path(db.url)
    if path is None:
        raise InvalidInput("crm backs up and restores SQLite files only; on PostgreSQL use pg_dump and pg_restore")
    return path


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL; None for another database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidInput("an in-memory database has nothing to back up")
    return Path(parsed.database)


def pg_commands(url: str, path: str) -> tuple[str, str]:
    """The exact pg_dump command that backs up the database at `url` into `path`, and the
    pg_restore command that brings it back. The password is left out: give it in PGPASSWORD or
    ~/.pgpass, not on a command line other users can see."""
    parsed = make_url(url)
    plain = URL.create("postgresql", username=parsed.username, host=parsed.host, port=parsed.port,
                       database=parsed.database, query=parsed.query)
    dsn = plain.render_as_string(hide_password=False)
    dump = f"pg_dump --format=custom --no-owner --file={shlex.quote(path)} --dbname={shlex.quote(dsn)}"
    restore = (f"pg_restore --clean --if-exists --no-owner --single-transaction --dbname={shlex.quote(dsn)} "
               f"{shlex.quote(path)}")
    return dump, restore


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    return conn


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _check(conn: sqlite3.Connection, what: str, *, full: bool = False) -> None:
    """quick_check reads every page's structure (a second a 300 MB file); integrity_check also
    matches every index against its table, ten times longer."""
    result = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise StorageError(f"{what} failed its integrity check: {result}")


def backup_sqlite(db: Database, target: Path | str, *, actor: Actor, overwrite: bool = False,
                  full_check: bool = False) -> BackupResult:
    """Copy the live SQLite database `db` to `target` with the online backup API, in one step:
    the copy is one consistent snapshot (WAL lets writers carry on meanwhile). Written to a
    temporary file, checked, then renamed into place, so a failed backup leaves no half file."""
    source, target = _check_allowed(db, actor), Path(target).expanduser()
    if not source.is_file():
        raise InvalidInput(f"no database file {str(source)!r}")
    try:
        if target.is_dir():
            target = target / f"{source.stem}-backup.db"
        exists, itself = target.exists(), target.resolve() == source.resolve()
        if not (exists and not overwrite) and not itself:
            target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = "a file on the way is not a directory" if isinstance(exc, FileExistsError) else exc.strerror or exc
        raise StorageError(f"cannot write the backup to {target}: {why}") from None
    if exists and not overwrite:
        raise InvalidInput(f"{str(target)!r} exists; choose another path or pass --force")
    if itself:
        raise InvalidInput("the backup cannot overwrite the database itself")
    # a private file no one can predict (mkstemp), renamed into place once checked
    with files.partial_file(target, what="the backup") as (fd, partial):
        try:
            src = _connect(source)
            dst = _connect(partial)  # SQLite opens it by name: make sure it is still the file made above
            try:
                if not files.same_file(fd, partial):
                    raise StorageError(f"cannot write the backup to {target}: its temporary file was replaced")
                src.backup(dst)  # pages=-1: everything under one read transaction, a consistent snapshot
                dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
                _check(dst, "the backup", full=full_check)
                revision = _revision(dst)
            finally:
                dst.close()
                src.close()
        except sqlite3.Error as exc:
            raise StorageError(f"backup failed: {exc}") from None
    return BackupResult(target, target.stat().st_size, revision,
                        "integrity_check" if full_check else "quick_check")


def inspect_backup(path: Path) -> str | None:
    """The schema revision of a backup file; raises if it is not a sound CRM database."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInput(f"no backup file {str(path)!r}")
    try:
        conn = _connect(path, readonly=True)
        try:
            _check(conn, f"{path.name}")
            revision = _revision(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{path.name} is not a SQLite database ({exc})") from None
    if revision is None:
        raise InvalidInput(f"{path.name} is not a crm database (it has no schema revision)")
    return revision


def restore_sqlite(db: Database, backup: Path | str, *, actor: Actor, known_revisions: set[str]) -> str:
    """Replace the contents of the SQLite database `db` with the backup, through the backup API
    (so processes that have the file open see the restored data, not a swapped-out inode).
    Returns the backup's revision; opening the database afterwards upgrades an older schema."""
    target = _check_allowed(db, actor)
    revision = inspect_backup(backup)
    if revision not in known_revisions:
        raise SchemaError(f"the backup's schema (revision {revision}) is newer than this crm; "
                          "upgrade crm-tui before restoring it")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        src = _connect(Path(backup), readonly=True)
        dst = _connect(target)
        try:
            src.backup(dst)
            _check(dst, "the restored database")
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        raise StorageError(f"restore failed: {exc}") from None
    return revision


def record_restore(db: Database, *, backup: Path | str, revision: str, actor: Actor,
                   now: datetime | None = None) -> None:
    """Write, into the restored database, who put it back and from what: the history it now holds
    is the backup's, so this event is what tells a teammate why later changes are gone. Call it
    once the schema is up to date (the restored file may be older)."""
    now = resolve_now(now)
    with db.write() as session:
        # the backup may predate the user who restores it: keep the login, drop a dangling id
        known = actor.user_id is not None and session.get(User, actor.user_id) is not None
        who = actor if known else replace(actor, user_id=None)
        audit(session, actor=who, entity="database", entity_id=None, action="restore", now=now,
              summary=f"restored from {Path(backup).name} (schema {revision})")


def known_revisions() -> set[str]:
    """Every schema revision this crm knows (a backup at any of them can be restored)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "migrations"))
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}
