"""`crm serve`: the same app in a browser, through textual-serve, bound to loopback by default and
locked with a per-run token (serve_guard.py)."""

from __future__ import annotations

import os
import shlex
import sys
from urllib.parse import urlsplit

import typer

from crm_tui.cli import output
from crm_tui.cli.params import is_loopback
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput

DEFAULT_PORT = 8000


def served_command(*, login: str) -> str:
    """The shell command textual-serve runs for each browser session: this Python's `crm`, as the
    user resolved here. The database URL travels in CRM_DATABASE_URL, not on the command line,
    where a PostgreSQL password would show in `ps` and in textual-serve's log."""
    return f"{shlex.quote(sys.executable)} -m crm_tui --user {shlex.quote(login)}"




def _checked_public_url(value: str | None) -> str | None:
    """--public-url as textual-serve and the token check need it: http(s)://host[:port][/path]."""
    if value is None:
        return None
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in 0..65535
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise InvalidInput(f"--public-url must be an http:// or https:// address such as "
                           f"https://crm.example.com, not {value!r}")
    return value.rstrip("/")


def _survey_pages(st):
    """The public survey pages (/survey/<token>), when [support] survey_url and its key are set."""
    from crm_tui.services import surveys

    try:
        why = surveys.not_configured(st.settings)
    except InvalidInput as exc:
        why = exc.message
    if why is not None:
        output.error_line("note", f"survey links are not served: {why}")
        return None
    from crm_tui.cli.survey_web import SurveyPages

    return SurveyPages(st.url, st.settings)


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless you put auth in front)."),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535, help="Port to listen on."),
    public_url: str | None = typer.Option(None, "--public-url", metavar="URL",
                                          help="The address browsers use, when behind a reverse proxy "
                                               "(e.g. https://crm.example.com)."),
) -> None:
    """Serve the app to a web browser; open the address it prints, which holds this run's key.

    Anyone with the address works as you. Keep it on 127.0.0.1 and use SSH port forwarding, or a
    reverse proxy with TLS that asks for a login."""
    public_url = _checked_public_url(public_url)
    st = state(ctx)
    actor = st.actor  # the same identity rules as `crm`: refused here, before anything is served
    st.close()  # each browser session opens the database in its own process
    try:
        from crm_tui.cli.serve_guard import GuardedServer
    except ImportError:  # pragma: no cover - a dependency, but say so rather than a traceback
        raise InvalidInput("crm serve needs textual-serve: pip install textual-serve") from None
    os.environ["CRM_DATABASE_URL"] = st.url
    if not is_loopback(host):
        output.error_line("warning", f"listening on {host}: plain http shows the token to the network, and "
                                     f"anyone with it works as {actor.login}; put a reverse proxy with "
                                     f"TLS and a login in front")
    server = GuardedServer(served_command(login=actor.login), host=host, port=port, title="crm-tui",
                           public_url=public_url, survey_pages=_survey_pages(st))
    try:
        server.serve()
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
