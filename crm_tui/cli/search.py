"""`crm search TEXT`: contacts, companies and deals by name, and activities by their notes."""

from __future__ import annotations

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.clock import utcnow
from crm_tui.errors import InvalidInput
from crm_tui.services import lookup


def search(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="Words to look for; each must match."),
    limit: int = typer.Option(10, "--limit", help="How many contacts; half as many of each other kind."),
    as_json: output.Json = False,
) -> None:
    """Find contacts, companies, deals, and calls, emails, meetings and notes by what they say."""
    if not 1 <= limit <= 100:
        raise InvalidInput("--limit must be between 1 and 100")
    with state(ctx).read() as (session, _actor):
        hits = lookup.find(session, query=text, limit=limit, now=utcnow())
    if as_json:
        output.emit_json({"items": hits})
        return
    if not hits:
        output.say(f"nothing matches {text!r}")
        return
    output.table(["Kind", "ID", "Name", "Detail", "Show with"],
                 [(h.kind, h.id, h.label, h.detail, f"crm {h.opens} show {h.opens_id}") for h in hits])
