"""`crm backup PATH` and `crm restore PATH`: a consistent copy of a live SQLite database, and
putting one back; on PostgreSQL, the pg_dump and pg_restore commands to run instead."""

from __future__ import annotations

import sys

import typer

from crm_tui.cli import output
from crm_tui.cli.context import CliState, state
from crm_tui.errors import InvalidInput
from crm_tui.services import backup as bk


def _require(st: CliState) -> None:
    """Refused before anything is asked or printed (the services check again as they work)."""
    with st.read() as (session, actor):
        bk.require_backup(session, actor)


def _pg_hint(url: str, path: str, *, restoring: bool) -> None:
    dump, restore = bk.pg_commands(url, path)
    what = "restore" if restoring else "back up"
    output.say(f"crm does not {what} PostgreSQL itself; run (give the password in PGPASSWORD or ~/.pgpass):")
    output.say(f"  {restore if restoring else dump}")
    raise typer.Exit(1)


def backup(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="The backup file to write (or a directory to write it in)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the file if it exists."),
    full_check: bool = typer.Option(False, "--full-check",
                                    help="Check the copy with integrity_check (every index too; slower) "
                                         "instead of quick_check."),
) -> None:
    """Back up the database: a consistent copy, safe while teammates are writing."""
    st = state(ctx)
    source = bk.sqlite_path(st.url)
    if source is None:
        _require(st)
        _pg_hint(st.url, path, restoring=False)
    result = bk.backup_sqlite(st.db, path, actor=st.actor, overwrite=force, full_check=full_check)
    output.say(f"backed up {source} to {result.path} ({result.bytes:,} bytes, schema {result.revision}, "
               f"{result.check} ok)")


def restore(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="A backup made by `crm backup`."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Replace the database without asking."),
) -> None:
    """Replace everything in the database with a backup (asks first)."""
    from crm_tui.db import open_database

    st = state(ctx)
    target = bk.sqlite_path(st.url)
    _require(st)
    if target is None:
        _pg_hint(st.url, path, restoring=True)
    revision = bk.inspect_backup(path)
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("restoring replaces every record in the database; pass --yes to confirm")
        if not typer.confirm(f"Replace everything in {target} with {path} (schema {revision})?", default=False):
            raise typer.Exit(1)
    bk.restore_sqlite(st.db, path, actor=st.actor, known_revisions=bk.known_revisions())
    restored = open_database(st.url)  # brings an older backup's schema up to this crm's
    try:
        bk.record_restore(restored, backup=path, revision=revision, actor=st.actor)
    finally:
        restored.dispose()
    output.say(f"restored {target} from {path}")
