"""The `crm` console script. `crm` alone (or with only --db and --user) starts the app at once,
without building the typer command tree: typer's option parsing loads pydantic, and the two cost the
app's start more than a fifth of a bare Textual app's whole start (bench/bench_process.py). Anything
else, or anything unusual in those options, goes to the typer root (cli/main.py), which parses and
reports it as it always has; the app then starts from there the same way (CliState.run_app)."""

from __future__ import annotations

import os
import sys

_APP_OPTIONS = ("--db", "--user")


def app_options(args: list[str]) -> dict[str, str | None] | None:
    """{"--db": ..., "--user": ...} when `args` ask for the app and nothing else, each option at most
    once with a plain value (UTF-8 text, not empty, not an option); None for anything else."""
    found: dict[str, str | None] = dict.fromkeys(_APP_OPTIONS)
    rest = list(args)
    while rest:
        name, eq, value = rest.pop(0).partition("=")
        if name not in found or found[name] is not None:
            return None
        if not eq:
            if not rest:
                return None
            value = rest.pop(0)
        if not value or value.startswith("-"):
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # the root command refuses it with its own message
            return None
        found[name] = value
    return found


def run() -> None:
    """The console-script entry point."""
    options = app_options(sys.argv[1:])
    if options is None:
        from crm_tui.cli.main import run as run_command

        run_command()
        return
    try:
        code = start_app(db=options["--db"], user=options["--user"])
    except Exception as exc:  # raised outside the app, e.g. while closing (as cli/main.py `run`)
        if _debug():
            raise
        from crm_tui.cli.main import report

        code = report(exc)
    sys.exit(code)


def _debug() -> bool:
    return os.environ.get("CRM_DEBUG", "") not in ("", "0")


def start_app(*, db: str | None, user: str | None) -> int:
    """The root command's own start of the app (cli/main.py `root`), and its error handling
    (CrmGroup.invoke): a domain error is one line and its exit code, a surprise one line too."""
    from crm_tui.cli.context import CliState, quiet_library_logs

    quiet_library_logs()
    state = CliState(db_arg=db, user_arg=user)
    try:
        state.run_app()
    except KeyboardInterrupt:  # as click says it, before the app has taken the terminal
        sys.stderr.write("\nAborted!\n")
        return 1
    except Exception as exc:
        if _debug():
            raise
        from crm_tui.cli.main import report

        return report(exc)
    finally:
        state.close()
    return 0
