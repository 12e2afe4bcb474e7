"""`crm init` and `crm db`: create or upgrade the database schema and report its revision."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.engine import make_url

from crm_tui import db as database
from crm_tui.cli import output
from crm_tui.cli.context import state

app = typer.Typer(name="db", help="The database schema: upgrade it, or show its revision.", no_args_is_help=True)


def _where(url: str) -> str:
    """A SQLite database's file path, or the URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return str(Path(parsed.database))
    return parsed.render_as_string(hide_password=True)


def _unmigrated(url: str) -> database.Database:
    """The database as it is: no upgrade on open (these commands report or do that themselves)."""
    return database.Database(url)


def init(
    ctx: typer.Context,
    shared: bool = typer.Option(False, "--shared", help="A team's SQLite file: group read-write (0660), "
                                                        "not yours only (0600). Put it in a group-writable directory."),
) -> None:
    """Create the database (or bring its schema up to date) and your user in it."""
    st = state(ctx)
    st.may_create = True
    parsed = make_url(st.url)
    is_file = parsed.get_backend_name() == "sqlite" and bool(parsed.database) and parsed.database != ":memory:"
    if shared and is_file:
        database._ensure_sqlite_file(parsed.database, shared=True)  # before opening makes it 0600
    actor = st.actor  # opening upgrades the schema; the first user of a new database becomes admin
    output.say(f"database: {_where(st.url)} (revision {database.current_revision(st.db)})")
    output.say(f"user: {actor.login} ({actor.role})")
    if shared and is_file:
        _say_sharing(Path(parsed.database))
    elif shared:
        output.say("--shared is for SQLite files; on PostgreSQL, give each teammate a database role")


def _say_sharing(path: Path) -> None:
    """The file's mode and group, and what the directory still needs for a team to share it."""
    import grp

    def group(p: Path) -> str:
        try:
            return grp.getgrgid(p.stat().st_gid).gr_name
        except KeyError:
            return str(p.stat().st_gid)

    output.say(f"shared: {path} is mode {path.stat().st_mode & 0o777:04o}, group {group(path)}")
    folder = path.parent
    if folder.stat().st_mode & 0o070 != 0o070:
        output.say(f"the directory is not group-writable; SQLite makes its -wal and -shm files there: "
                   f"chgrp {group(path)} {folder} && chmod 2770 {folder}")


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the schema up to the newest revision."""
    st = state(ctx)
    db = _unmigrated(st.url)
    try:
        before, after = database.upgrade(db)
    finally:
        db.dispose()
    if before == after:
        output.say(f"{_where(st.url)} is up to date (revision {after})")
    else:
        output.say(f"upgraded {_where(st.url)} from revision {before or 'none'} to {after}")


@app.command("current")
def current(ctx: typer.Context, as_json: output.Json = False) -> None:
    """Print the database's schema revision and the newest one this crm knows."""
    st = state(ctx)
    db = _unmigrated(st.url)
    try:
        revision = database.current_revision(db)
    finally:
        db.dispose()
    head = database.head_revision()
    state_ = database.schema_state(revision)
    if as_json:
        output.emit_json({"database": _where(st.url), "revision": revision, "head": head, "state": state_})
        return
    status = {"current": "up to date", "older": "older than this crm: run `crm db upgrade`",
              "newer": "the database is at a newer schema than this crm-tui knows: upgrade crm-tui"}[state_]
    output.say(f"database: {_where(st.url)}")
    output.say(f"revision: {revision or 'none'}")
    output.say(f"head: {head} ({status})")
