"""`crm secret`: keep the SMTP password in the system keyring, forget it, and say where each password
would come from, never printing one."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from sqlalchemy.engine import make_url

from crm_tui import secrets
from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput, StorageError

if TYPE_CHECKING:
    from crm_tui.workflows.email import SmtpLogin

app = typer.Typer(name="secret", no_args_is_help=True,
                  help="Passwords in the system keyring (the SMTP password); never in the database or a log.")

KINDS = ("smtp",)


def _smtp_login(ctx: typer.Context) -> SmtpLogin | None:
    from crm_tui.workflows.email import smtp_login  # here: every `crm` command imports this module

    return smtp_login(state(ctx).settings)


def _login(ctx: typer.Context, what: str) -> SmtpLogin:
    if (what or "").strip().lower() not in KINDS:
        raise InvalidInput(f"no secret {what!r}: crm keeps the SMTP password (smtp); the database password "
                           "belongs in PGPASSWORD or ~/.pgpass")
    login = _smtp_login(ctx)
    if login is None:
        raise InvalidInput("set host and username under [smtp] in config.toml first: the password is for that login")
    return login


def _whose(login: SmtpLogin) -> str:
    return f"{login.username} at {login.host}"


def _can_ask() -> bool:
    """Hidden input needs a terminal (getpass on a pipe would warn and read it in the clear)."""
    return sys.stdin.isatty()


@app.command("set")
def set_(
    ctx: typer.Context,
    what: str = typer.Argument("smtp", help="smtp: the password of the [smtp] login in config.toml."),
    from_stdin: bool = typer.Option(False, "--stdin", help="Read the password from the first line of "
                                                           "standard input instead of asking."),
) -> None:
    """Store the password in the system keyring, asked for with hidden input (or read from stdin)."""
    login = _login(ctx, what)
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif _can_ask():
        password = typer.prompt(f"SMTP password for {_whose(login)}", hide_input=True, confirmation_prompt=True)
    else:
        raise InvalidInput("no terminal to ask on: pass --stdin to read the password from standard input")
    if not password:
        raise InvalidInput("no password given; nothing was stored")
    try:
        secrets.set_secret(login.secret_name, password)
    except StorageError as exc:
        raise StorageError(f"{exc.message}; give the password in {login.env} instead") from None
    output.say(f"stored the SMTP password for {_whose(login)} in the system keyring ({secrets.keyring_backend()})")
    if secrets.from_env(login.env):
        output.say(f"note: {login.env} is set, and comes before the keyring")


@app.command("forget")
def forget(
    ctx: typer.Context,
    what: str = typer.Argument("smtp", help="smtp: the password of the [smtp] login in config.toml."),
) -> None:
    """Remove the password from the system keyring."""
    login = _login(ctx, what)
    if secrets.forget_secret(login.secret_name):
        output.say(f"removed the SMTP password for {_whose(login)} from the system keyring")
    else:
        output.say(f"the system keyring holds no SMTP password for {_whose(login)}")


def _smtp_status(ctx: typer.Context) -> dict:
    smtp = state(ctx).settings.smtp
    login = _smtp_login(ctx)
    if login is None:
        off = smtp is None or not smtp.host
        return {"login": None, "source": None,
                "says": "email is off (no [smtp] host in config.toml)" if off
                else "sends without logging in (no username under [smtp])"}
    source = secrets.source_of(login.secret_name, env=login.env)
    says = {"env": f"from the environment variable {login.env}",
            "keyring": f"from the system keyring ({secrets.keyring_backend()})",
            None: f"nowhere: set {login.env}, or run `crm secret set smtp`"}[source]
    return {"login": _whose(login), "env": login.env, "keyring_entry": login.secret_name, "source": source,
            "says": says}


def _database_status(ctx: typer.Context) -> dict:
    """Where the database password comes from: psycopg (libpq) reads PGPASSWORD and ~/.pgpass itself."""
    url = make_url(state(ctx).url)
    if url.get_backend_name() != "postgresql":
        return {"source": None, "says": "a SQLite file: no password (its file mode guards it)"}
    pgpass = Path(os.environ.get("PGPASSFILE") or Path.home() / ".pgpass")
    if url.password is not None:
        source, says = "url", "in the database URL: move it to PGPASSWORD or ~/.pgpass"
    elif os.environ.get("PGPASSWORD"):
        source, says = "env", "from the environment variable PGPASSWORD"
    elif pgpass.is_file():
        source, says = "pgpass", f"from {pgpass}, if it has a line for this database"
    else:
        source, says = None, "none given (PGPASSWORD or ~/.pgpass); fine where the server trusts this login"
    return {"source": source, "says": says}


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: output.Json = False,
) -> None:
    """Where the SMTP and database passwords would come from (never the passwords themselves)."""
    smtp, database = _smtp_status(ctx), _database_status(ctx)
    if as_json:
        output.emit_json({"smtp": smtp, "database": database})
        return
    who = f" for {smtp['login']}" if smtp["login"] else ""
    output.say(f"SMTP password{who}: {smtp['says']}")
    output.say(f"database password: {database['says']}")
