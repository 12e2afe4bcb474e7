"""`crm deal`: add, list, show, edit, move or step between stages, and mark won or lost."""

from __future__ import annotations

import sys

import typer

from crm_tui.cli import bulk, deal_items, output, params, refs
from crm_tui.cli import deal_filters as df
from crm_tui.cli.archiving import add_archive_commands
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput
from crm_tui.services import activities, deal_list, deals, fields, pipelines, views

app = typer.Typer(name="deal", help="Deals: add, list, show, edit, move, won, lost.", no_args_is_help=True)

ID_HELP = "Deal id."
VERSION_HELP = "The version you last saw; refuse the change if the deal changed since."
YES_HELP = "Win a lost deal, or lose a won one, without asking."
CREATE_COMPANY_HELP = "Add the company named by --company when none has that name."


@app.command("add")
def add(
    ctx: typer.Context,
    title: str = typer.Argument(..., help="Deal title."),
    amount: str = typer.Option("0", "--amount", "-a", help="Amount, e.g. 12,500 or 900.50."),
    currency: str | None = typer.Option(None, "--currency", help="ISO code; the configured default otherwise."),
    pipeline: str | None = typer.Option(None, "--pipeline", help="Pipeline id or name; the default otherwise."),
    stage: str | None = typer.Option(None, "--stage", help="Stage id or name; the first stage otherwise."),
    company: str | None = typer.Option(None, "--company", help="Company id, name or domain."),
    contact: str | None = typer.Option(None, "--contact", help="Contact id or email."),
    owner: str | None = typer.Option(None, "--owner", help="Owner (user login); you by default."),
    close: str | None = typer.Option(None, "--close", help='Expected close date, e.g. "2026-12-31" or "+30d".'),
    create_company: bool = typer.Option(False, "--create-company", help=CREATE_COMPANY_HELP),
    field: list[str] = typer.Option([], "--field", help=params.FIELD_HELP),
    as_json: output.Json = False,
) -> None:
    """Add a deal."""
    st = state(ctx)
    with st.write() as (session, actor):
        data = {"title": title, "amount": amount, "currency": currency, "expected_close": close,
                **refs.link_changes(session, company=company, contact=contact, owner=owner,
                                    create_company=create_company, actor=actor)}
        if pipeline is not None or stage is not None:
            chosen = pipelines.resolve_pipeline(session, pipeline)
            data["pipeline_id"] = chosen.id
            if stage is not None:
                data["stage_id"] = pipelines.resolve_stage(session, chosen.id, stage).id
        deal = deals.create_deal(session, data=data, actor=actor, default_currency=st.settings.currency,
                                 custom=params.custom_fields(field)[0])
    if as_json:
        output.emit_json(deal)
    else:
        output.say(f"added deal #{deal.id} {deal.title} ({output.money(deal.amount_minor, deal.currency)}) "
                   f"in {deal.stage_name}")


@app.command("list")
def list_(
    ctx: typer.Context,
    search: df.Search = None, pipeline: df.Pipeline = None, stage: df.Stage = [], status: df.Status = [],
    owner: df.Owner = None, company: df.Company = None, contact: df.Contact = None, tag: df.Tag = None,
    close_from: df.CloseFrom = None, close_to: df.CloseTo = None, min_amount: df.MinAmount = None,
    max_amount: df.MaxAmount = None, field: df.Field = [],
    archived: bool = typer.Option(False, "--archived", help="List archived deals instead."),
    saved: str | None = typer.Option(None, "--list", help="Start from a saved deal list (name or id); the "
                                                            "options given replace its own."),
    sort: str | None = typer.Option(None, "--sort", help=", ".join(deal_list.SORTS) + " (title by default), or "
                                                           "custom.FIELD (a typed custom field)."),
    limit: output.Limit = 50,
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """List deals (open, won, lost or archived), filtered and sorted, a page at a time, with the total."""
    st = state(ctx)
    with st.read() as (session, actor):
        filters = df.parse(session, st, status=status, pipeline=pipeline, stage=stage, owner=owner, company=company,
                           contact=contact, tag=tag, close_from=close_from, close_to=close_to,
                           min_amount=min_amount, max_amount=max_amount, field=field, archived=archived)
        query = search
        if saved is not None:
            view = views.find_deal_view(session, name=saved, actor=actor)
            filters = {**views.resolve_filters(view.filters, actor), **filters}
            query = search if search is not None else (view.query or None)
            sort = sort or view.sort
        page = deal_list.list_deals(session, query=query, filters=filters, sort=sort or "title", after=after,
                                    limit=limit, with_total=True)
    if as_json:
        output.emit_page_json(page)
        return
    output.table(["ID", "Title", "Company", "Stage", "Amount", "Status", "Close", "Owner"],
                 [(d.id, d.title, d.company_name, d.stage_name, output.money(d.amount_minor, d.currency), d.status,
                   output.day(d.expected_close), d.owner_login) for d in page.items])
    output.more_hint(page, shown=len(page.items))


@app.command("show")
def show(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    as_json: output.Json = False,
) -> None:
    """Show a deal and its latest activities."""
    st = state(ctx)
    with st.read() as (session, _actor):
        deal = deals.get_deal(session, deal_id=deal_id)
        recent = activities.timeline(session, deal_id=deal.id, limit=10)
    if as_json:
        output.emit_json({**deal.model_dump(), "recent_activities": recent.items})
        return
    zone = st.zone
    output.details([
        ("Title", deal.title), ("Amount", output.money(deal.amount_minor, deal.currency)),
        ("Pipeline", deal.pipeline_name), ("Stage", f"{deal.stage_name} ({deal.probability}%)"),
        ("Status", deal.status), ("Lost reason", deal.lost_reason), ("Company", deal.company_name),
        ("Contact", deal.contact_name), ("Owner", deal.owner_login), ("Expected close", output.day(deal.expected_close)),
        ("In stage since", output.local_time(deal.stage_entered_at, zone)),
        ("Closed", output.local_time(deal.closed_at, zone)), ("Archived", "yes" if deal.archived else None),
        ("Created", output.local_time(deal.created_at, zone)), ("Version", deal.version),
    ], title=f"Deal #{deal.id}")
    if recent.items:
        output.table(["When", "Kind", "Subject", "By"],
                     [(output.local_time(a.occurred_at, zone), a.kind, a.subject, a.user_login) for a in recent.items],
                     title="Latest activities")


@app.command("edit")
def edit(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    title: str | None = typer.Option(None, "--title"),
    amount: str | None = typer.Option(None, "--amount", "-a", help="Amount, e.g. 12,500."),
    currency: str | None = typer.Option(None, "--currency"),
    company: str | None = typer.Option(None, "--company", help='Company id, name or domain ("" to clear).'),
    contact: str | None = typer.Option(None, "--contact", help='Contact id or email ("" to clear).'),
    owner: str | None = typer.Option(None, "--owner", help='Owner login ("" for none).'),
    close: str | None = typer.Option(None, "--close", help='Expected close date ("" to clear).'),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    create_company: bool = typer.Option(False, "--create-company", help=CREATE_COMPANY_HELP),
    field: list[str] = typer.Option([], "--field", help=params.FIELD_HELP),
    as_json: output.Json = False,
) -> None:
    """Change a deal's fields; only the options given change. Use `deal move` to change its stage."""
    with state(ctx).write() as (session, actor):
        changes = {key: value for key, value in (("title", title), ("amount", amount), ("currency", currency),
                                                 ("expected_close", close)) if value is not None}
        changes.update(refs.link_changes(session, company=company, contact=contact, owner=owner,
                                         create_company=create_company, actor=actor))
        deal = deals.update_deal(session, deal_id=deal_id, changes=changes, actor=actor, version=version)
        if field:
            set_, clear = params.custom_fields(field)
            fields.set_values(session, kind="deal", record_id=deal_id, set_=set_, remove=clear, actor=actor,
                              version=None if changes else version)
            deal = deals.get_deal(session, deal_id=deal_id)
    if as_json:
        output.emit_json(deal)
    else:
        output.say(f"updated deal #{deal.id} {deal.title} (version {deal.version})")


def _report_stage(deal, as_json: bool) -> None:
    if as_json:
        output.emit_json(deal)
    else:
        output.say(f"deal #{deal.id} {deal.title} is now in {deal.stage_name} ({deal.status})")


@app.command("move")
def move(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    stage: str = typer.Argument(..., help="Stage id or name in the deal's pipeline."),
    reason: str | None = typer.Option(None, "--reason", help="Why it was lost (when moving to the lost stage)."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    as_json: output.Json = False,
) -> None:
    """Move a deal to another stage of its pipeline (a closed deal reopens in an open stage)."""
    with state(ctx).write() as (session, actor):
        current = deals.get_deal(session, deal_id=deal_id)
        target = pipelines.resolve_stage(session, current.pipeline_id, stage)
        overturn = _confirm_overturn(current, target.kind, yes)
        deal = deals.move_deal(session, deal_id=deal_id, stage_id=target.id, actor=actor, version=version,
                               lost_reason=reason, overturn=overturn)
    _report_stage(deal, as_json)


def _confirm_overturn(deal, target_kind: str, yes: bool) -> bool:
    """Winning a lost deal or losing a won one: --yes, or a yes at the terminal (a script without
    --yes gets the service's one-line refusal)."""
    if yes or not deals.overturns(deal.status, target_kind):
        return yes
    if sys.stdin.isatty():
        return typer.confirm(f"Deal #{deal.id} {deal.title} was {deal.status}. Mark it {target_kind}?", default=False)
    return False


@app.command("reopen")
def reopen(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=ID_HELP),
    stage: str | None = typer.Option(None, "--stage", help="An open stage of its pipeline; the first otherwise."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Reopen a won or lost deal in an open stage."""
    with state(ctx).write() as (session, actor):
        current = deals.get_deal(session, deal_id=deal_id)
        stage_id = pipelines.resolve_stage(session, current.pipeline_id, stage).id if stage is not None else None
        deal = deals.reopen_deal(session, deal_id=deal_id, stage_id=stage_id, actor=actor, version=version)
    _report_stage(deal, as_json)


@app.command("won")
def won(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    as_json: output.Json = False,
) -> None:
    """Mark a deal won."""
    with state(ctx).write() as (session, actor):
        overturn = _confirm_overturn(deals.get_deal(session, deal_id=deal_id), "won", yes)
        deal = deals.mark_won(session, deal_id=deal_id, actor=actor, version=version, overturn=overturn)
    _report_stage(deal, as_json)


@app.command("lost")
def lost(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    reason: str = typer.Option(..., "--reason", help="Why it was lost."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help=YES_HELP),
    as_json: output.Json = False,
) -> None:
    """Mark a deal lost, with the reason."""
    with state(ctx).write() as (session, actor):
        overturn = _confirm_overturn(deals.get_deal(session, deal_id=deal_id), "lost", yes)
        deal = deals.mark_lost(session, deal_id=deal_id, reason=reason, actor=actor, version=version,
                               overturn=overturn)
    _report_stage(deal, as_json)


@app.command("step")
def step(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=ID_HELP, parser=params.record_id),
    back: bool = typer.Option(False, "--back", help="To the previous open stage instead of the next."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Move an open deal to the next open stage (or with --back the previous one), as ] and [ do on the board."""
    with state(ctx).write() as (session, actor):
        deal = deals.step_deal(session, deal_id=deal_id, step=-1 if back else 1, actor=actor, version=version)
    _report_stage(deal, as_json)


def _find_deal(session, ref: str):
    if not ref.strip().isdigit():
        raise InvalidInput(f"deal {ref!r}: give the deal's id (a number)")
    return deals.get_deal(session, deal_id=int(ref))


add_archive_commands(
    app, noun="deal", ref_help=ID_HELP, version_help=VERSION_HELP, find=_find_deal,
    set_archived=lambda session, record_id, archived, actor, version: deals.set_deal_archived(
        session, deal_id=record_id, archived=archived, actor=actor, version=version),
    label=lambda record: record.title)


# `bulk`: the list's filters, then one change to every record they pick (cli/bulk.py)
app.command("bulk")(bulk.deal_bulk)

# `item`: a deal's line items (cli/deal_items.py)
app.add_typer(deal_items.app)
