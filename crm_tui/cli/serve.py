"""`crm serve`: the same app in a browser, through textual-serve, bound to loopback by default and
locked with a per-run token (serve_guard.py)."""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput

DEFAULT_PORT = 8000


def served_command(*, login: str) -> str:
    """The shell command textual-serve runs for each browser session: this Python's `crm`, as the
    user resolved here. The database URL travels in CRM_DATABASE_URL, not on the command line,
    where a PostgreSQL password would show in `ps` and in textual-serve's log."""
    return f"{shlex.quote(sys.executable)} -m crm_tui --user {shlex.quote(login)}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
                           public_url=public_url.rstrip("/") if public_url else None)
    try:
        server.serve()
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
