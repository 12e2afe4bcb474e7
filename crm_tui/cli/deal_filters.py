"""The deals list's filters as options, shared by `crm deal list` and `crm deal bulk`, which must
pick the same deals from the same words (services/deal_list.parse_filters reads them)."""

from __future__ import annotations

from typing import Annotated

import typer

Search = Annotated[str | None, typer.Option("--search", "-s", help="Search deal titles.")]
Pipeline = Annotated[str | None, typer.Option("--pipeline", help="Only this pipeline (id or name).")]
Stage = Annotated[list[str], typer.Option("--stage", help="Only this stage (of --pipeline, or of every pipeline); "
                                                          "repeat or comma-separate for more.")]
Status = Annotated[list[str], typer.Option("--status", help="open, won or lost; repeat or comma-separate for more.")]
Owner = Annotated[str | None, typer.Option("--owner", help="Only deals owned by this user (login, me, or none).")]
Company = Annotated[str | None, typer.Option("--company", help="Only this company's deals.")]
Contact = Annotated[str | None, typer.Option("--contact", help="Only this contact's deals.")]
Tag = Annotated[str | None, typer.Option("--tag", help="Only deals whose contact has this tag.")]
CloseFrom = Annotated[str | None, typer.Option("--close-from", help='Expected close on or after, e.g. "today".')]
CloseTo = Annotated[str | None, typer.Option("--close-to", help='Expected close on or before, e.g. "+30d".')]
MinAmount = Annotated[str | None, typer.Option("--min-amount", help="Amount at least this, e.g. 10,000.")]
MaxAmount = Annotated[str | None, typer.Option("--max-amount", help="Amount at most this.")]
Field = Annotated[list[str], typer.Option("--field", help="Custom field: name=value, or name alone for any value "
                                                          "(repeat for more).")]


def parse(session, st, *, status: list[str], pipeline: str | None, stage: list[str], owner: str | None,
          company: str | None, contact: str | None, tag: str | None, close_from: str | None, close_to: str | None,
          min_amount: str | None, max_amount: str | None, field: list[str], archived: bool) -> dict:
    """The options as the deals list's filters (a DealFilter's dict), names resolved."""
    from crm_tui.services import deal_list

    return deal_list.parse_filters(
        session, actor=st.actor, status=status, pipeline=pipeline, stages=stage, owner=owner, company=company,
        contact=contact, tag=tag, close_from=close_from, close_to=close_to, amount_min=min_amount,
        amount_max=max_amount, currency=st.settings.currency, custom=field, archived=archived)
