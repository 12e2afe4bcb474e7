"""The `crm` root command: global options, error handling, and the command groups."""

from __future__ import annotations

import os
import sys

import typer
from typer.core import TyperGroup

from crm_tui import __version__, config
from crm_tui.cli import (
    activities,
    audit,
    companies,
    contacts,
    dbcmd,
    deals,
    demo,
    pipelines,
    tasks,
    users,
)
from crm_tui.cli.context import CliState
from crm_tui.cli.output import error_line, quiet_library_logs
from crm_tui.errors import CrmError, InvalidInput

try:  # typer >= 0.20 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer on real click
    from click.exceptions import ClickException

INTERNAL_ERROR = 70  # EX_SOFTWARE
# BrokenPipeError: the reader went away (`crm ... | head`); click's main ends the command
# quietly, as other Unix tools do, so it must reach it rather than be reported as a surprise
_PASS_THROUGH = (ClickException, typer.Exit, typer.Abort, BrokenPipeError)


def _debug() -> bool:
    return os.environ.get("CRM_DEBUG", "") not in ("", "0")


def report(exc: BaseException) -> int:
    """Print one line for an error and return the exit code it stands for."""
    if isinstance(exc, CrmError):
        error_line("error", exc.message)
        return exc.exit_code
    error_line("internal error", f"{type(exc).__name__}: {exc} (set CRM_DEBUG=1 for the traceback)")
    return INTERNAL_ERROR


def undecodable_argument(args: list[str]) -> InvalidInput | None:
    """The error for the first argument that is not UTF-8 text, if any. Python hands bytes that do
    not decode (a Latin-1 "\\xe9" from an old shell script, say) to the program as lone surrogates,
    which no database, file or terminal can take; refuse them where they enter."""
    for number, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape")
            return InvalidInput(f"argument {number} ({raw!r}) is not UTF-8 text; "
                                f"give names and notes in UTF-8 (check the terminal's or the script's encoding)")
    return None


class CrmGroup(TyperGroup):
    """The root group: turns domain errors (and surprises) raised by any command into one line."""

    def parse_args(self, ctx, args):
        if (error := undecodable_argument(args)) is not None:
            raise typer.Exit(report(error))
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except CrmError as exc:
            raise typer.Exit(report(exc)) from None
        except Exception as exc:
            if _debug():
                raise
            raise typer.Exit(report(exc)) from None


app = typer.Typer(
    cls=CrmGroup,
    name="crm",
    help="A keyboard-first CRM for small sales teams. With no command, starts the app.",
    no_args_is_help=False,
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"crm-tui {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: str | None = typer.Option(None, "--db", metavar="URL",
                                  help="Database URL (sqlite:///path or postgresql+psycopg://...) or a file path."),
    user: str | None = typer.Option(None, "--user", metavar="LOGIN", help="Act as this user."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    quiet_library_logs()
    state = CliState(db_arg=db, user_arg=user)
    ctx.obj = state
    ctx.call_on_close(state.close)
    if ctx.invoked_subcommand is None:
        # imported here: textual is slow to load and no other command needs it
        from crm_tui.app import run_app

        # the app's first start on the default path makes the database; a path given is opened only
        state.may_create = state.url == config.resolve_database_url(None, config.Settings())
        run_app(db=state.db, actor=state.actor, settings=state.settings)


app.command("init")(dbcmd.init)
app.command("demo")(demo.demo)
app.add_typer(contacts.app)
app.add_typer(companies.app)
app.add_typer(deals.app)
app.command("log")(activities.log)
app.add_typer(tasks.app)
app.add_typer(users.app)
from crm_tui.cli import roles as _roles  # noqa: E402 - issue 8: roles and permissions

app.add_typer(_roles.app)
app.add_typer(pipelines.app)
app.add_typer(dbcmd.app)
app.command("audit")(audit.audit)

from crm_tui.cli import backup as _backup, export as _export  # noqa: E402 - issue 7: export and backup

app.command("export")(_export.export)
app.command("backup")(_backup.backup)
app.command("restore")(_backup.restore)

from crm_tui.cli import importer as _importer  # noqa: E402 - issue 7: import

app.command("import")(_importer.import_)

from crm_tui.cli import reports as _reports  # noqa: E402 - issue 6: reports and goals

app.add_typer(_reports.app)
app.add_typer(_reports.goal_app)

from crm_tui.cli import workflows as _workflows  # noqa: E402 - issue 5: the workflow engine

app.add_typer(_workflows.app)

from crm_tui.cli import serve as _serve  # noqa: E402 - issue 8: the app in a browser

app.command("serve")(_serve.serve)

from crm_tui.cli import secrets as _secrets  # noqa: E402 - issue 8: passwords in the system keyring

app.add_typer(_secrets.app)

from crm_tui.cli import search as _search  # noqa: E402 - issue 17: search what people wrote

app.command("search")(_search.search)

from crm_tui.cli import activity as _activity, views as _views  # noqa: E402 - issue 17: correcting records

app.add_typer(_views.app)
app.add_typer(_activity.app)


def run() -> None:
    """The console-script entry point."""
    try:
        app()
    except CrmError as exc:  # raised outside a command, e.g. while closing
        sys.exit(report(exc))
    except Exception as exc:
        if _debug():
            raise
        sys.exit(report(exc))
