"""The `crm` root command: global options, error handling, and the command groups."""

from __future__ import annotations

import importlib
import os
import sys

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from crm_tui import __version__
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
    from crm_tui.cli.output import error_line

    if isinstance(exc, CrmError):
        error_line("error", exc.cli_line)
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


# Every command: its name, the module under crm_tui/cli and the name there (a function, or a
# typer.Typer of subcommands), and the line `crm --help` shows for it. A command's module is
# imported only when that command runs (or its own --help is asked for): `crm --version`,
# `crm --help` and each command load no other command's services, models or libraries.
# tests/unit/test_import_guard.py checks each line against the command's own help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("dbcmd", "init", "Create the database (or bring its schema up to date) and your user in it."),
    "demo": ("demo", "demo", "Load demo data: companies, contacts, deals, activities, tasks and a few users."),
    "log": ("activities", "log", "Log a call, email, meeting or note against a contact, company or deal."),
    "audit": ("audit", "audit", "Who changed what, and when."),
    "export": ("export", "export",
               "Export records. The CSV's columns are the import's field names: it imports back as is."),
    "backup": ("backup", "backup", "Back up the database: a consistent copy, safe while teammates are writing."),
    "restore": ("backup", "restore", "Replace everything in the database with a backup (asks first)."),
    "import": ("importer", "import_",
               "Import a CSV, XLSX, JSON or vCard file, without duplicates and without losing a row."),
    "serve": ("serve", "serve",
              "Serve the app to a web browser; open the address it prints, which holds this run's key."),
    "search": ("search", "search",
               "Find contacts, companies, deals, and calls, emails, meetings and notes by what they say."),
    "contact": ("contacts", "app", "People: add, list, show, edit, archive, tag."),
    "company": ("companies", "app", "Companies (accounts): add, list, show, edit, archive."),
    "deal": ("deals", "app", "Deals: add, list, show, edit, move, won, lost."),
    "task": ("tasks", "app", "Tasks: add, list, inbox, done, snooze, reschedule, assign."),
    "user": ("users", "app", "The team: add, list, edit users."),
    "field": ("fields", "app", "Custom fields: add, list, edit, archive, check, promote."),
    "role": ("roles", "app", "Roles: what admin, manager, sales, marketing and support may do."),
    "pipeline": ("pipelines", "app", "Pipelines and their stages."),
    "db": ("dbcmd", "app", "The database schema: upgrade it, or show its revision."),
    "report": ("reports", "app",
               "Reports: pipeline, forecast, win rate, revenue, activity, sources, stale deals, lost reasons, "
               "revenue by product (and seller), quotes, discounts; the service desk: cases, case-times, sla, csat, "
               "nps."),
    "fx": ("fx", "app", "Exchange rates: set, import, list, remove. A rate applies from its date until the next one."),
    "goal": ("reports", "goal_app", "Sales goals per user and month or quarter."),
    "workflows": ("workflows", "app",
                  "Workflow rules: run, check (dry run), list, log, validate, publish, init, edit."),
    "secret": ("secrets", "app",
               "Passwords in the system keyring (SMTP, your IMAP mailbox, the team BCC box); "
               "never in the database or a log."),
    "mail": ("mail", "app", "Mail to the timeline: sync (IMAP), ingest (files, a pipe), triage, log, thread."),
    "view": ("views", "app", "Saved contact lists: list, rename, update, delete."),
    "activity": ("activity", "app", "Logged activities: show, edit, delete."),
    "template": ("templates", "app", "Email templates: add, list, show, edit, archive, preview."),
    "product": ("products", "app", "The product catalog: add, list, show, edit, price, archive."),
    "case": ("cases", "app", "Support cases: add, list, show, reply, note, assign, status, resolve, close, reopen, merge."),
    "sla": ("sla", "app", "SLAs: policies, business hours, holidays (ICS import), the scan of cases due."),
    "email": ("email_send", "app", "Send email from the CRM: logged on the contact's, company's and deal's timeline."),
    "sequence": ("sequences", "app",
                 "Sequences: add, list, show, edit, archive, step add|edit|remove, enroll, stop, status."),
    "quote": ("quotes", "app", "Quotes: create from a deal's items, list, show, render, send, accept, decline, revise."),
    "survey": ("surveys", "app", "Surveys: list, show, answer; nps send (CSAT goes out when a case is resolved)."),
}


def load_command(name: str):
    """The click command `name` stands for, its module imported now."""
    module, attribute, _line = COMMANDS[name]
    target = getattr(importlib.import_module(f"crm_tui.cli.{module}"), attribute)
    if not isinstance(target, typer.Typer):  # one function: a typer of its own, of one command
        holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        holder.command(name)(target)
        target = holder
    return typer.main.get_command(target)


class _LoadedOnUse(dict):
    """The root's commands: looking one up by name (`group.commands["task"]`) loads it."""

    def __missing__(self, name: str):
        if name not in COMMANDS:
            raise KeyError(name)
        command = self[name] = load_command(name)
        return command

    def _load_all(self) -> None:
        for name in COMMANDS:
            self[name]  # noqa: B018 - loads it

    def items(self):  # walking the whole tree (the tests do) loads every command
        self._load_all()
        return super().items()

    def values(self):
        self._load_all()
        return super().values()


def _flags_take_no_value() -> None:
    """typer (0.29) labels every flag in --help `<bool>`, as if it took a value; a flag takes none,
    so its line shows no type (tests/cli checks the help, and that typer still needs this)."""
    shown = TyperOption.display_type_rich
    if getattr(shown, "flags_take_no_value", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag and self.metavar is None else shown(self, ctx)

    display_type_rich.flags_take_no_value = True
    TyperOption.display_type_rich = display_type_rich


_flags_take_no_value()


class CrmGroup(TyperGroup):
    """The root group: loads a command when it runs (see COMMANDS), and turns domain errors (and
    surprises) raised by any command into one line."""

    _listing = False  # writing the root's --help: the commands' lines come from COMMANDS

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.commands = _LoadedOnUse(self.commands)

    def list_commands(self, ctx):
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx, cmd_name):
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if self._listing:
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name][2])
        return self.commands[cmd_name]

    def format_help(self, ctx, formatter):
        self._listing = True
        try:
            return super().format_help(ctx, formatter)
        finally:
            self._listing = False

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
    from crm_tui.cli.context import CliState, quiet_library_logs

    quiet_library_logs()
    state = CliState(db_arg=db, user_arg=user)
    ctx.obj = state
    ctx.call_on_close(state.close)
    if ctx.invoked_subcommand is None:
        state.run_app()


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
