"""`crm audit`: read the audit trail, newest first."""

from __future__ import annotations

from datetime import time

import typer

from crm_tui.cli import output, params
from crm_tui.cli.context import state
from crm_tui.services import audit as audit_service
from crm_tui.services.dates import parse_when


def audit(
    ctx: typer.Context,
    record: str | None = typer.Option(None, "--record", metavar="KIND:ID",
                                      help="Only this record, e.g. contact:12, company:3, deal:40."),
    entity: str | None = typer.Option(None, "--entity", help="contact, company, deal, activity, task, user, ..."),
    entity_id: int | None = typer.Option(None, "--id", help="Only this record (with --entity).", parser=params.record_id),
    user: str | None = typer.Option(None, "--user", help="Only changes made by this login."),
    since: str | None = typer.Option(None, "--since", help='Only changes since then, e.g. "2026-11-01" or "7d ago".'),
    limit: output.Limit = 50,
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """Who changed what, and when."""
    if record is not None:
        entity, entity_id = audit_service.parse_record(record)
    st = state(ctx)
    with st.read() as (session, _actor):
        # a bare day means from the start of that day, in the user's zone
        since_at = (parse_when(since, zone=st.zone, default_time=time(0, 0), order=_actor.date_order)
                    if since is not None else None)
        page = audit_service.list_events(session, entity=entity, entity_id=entity_id, actor=user, since=since_at,
                                         after=after, limit=limit)
    if as_json:
        output.emit_page_json(page)
        return
    output.table(["When", "Who", "What", "ID", "Action", "Field", "Old", "New"],
                 [(output.local_time(e.at, st.zone), e.who, e.entity, e.entity_id, e.action, e.field_label,
                   e.old_shown, e.new_shown) for e in page.items])
    output.more_hint(page, shown=len(page.items))

