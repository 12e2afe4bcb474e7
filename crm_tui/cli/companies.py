"""`crm company`: add, list, show, edit and archive companies."""

from __future__ import annotations

import typer

from crm_tui.cli import bulk, output, params, refs
from crm_tui.cli.archiving import add_archive_commands
from crm_tui.cli.context import state
from crm_tui.services import companies, contacts, deals, fields

app = typer.Typer(name="company", help="Companies (accounts): add, list, show, edit, archive.", no_args_is_help=True)

REF_HELP = "Company id, name or domain."
VERSION_HELP = "The version you last saw; refuse the change if the company changed since."


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Company name."),
    domain: str | None = typer.Option(None, "--domain", help="Web domain, e.g. acme.com."),
    industry: str | None = typer.Option(None, "--industry"),
    size: str | None = typer.Option(None, "--size", help="Head count band, e.g. 11-50."),
    address: str | None = typer.Option(None, "--address"),
    owner: str | None = typer.Option(None, "--owner", help="Owner (user login); you by default."),
    parent: str | None = typer.Option(None, "--parent", help="The company it belongs to (id, name or domain)."),
    notes: str | None = typer.Option(None, "--notes"),
    allow_duplicate: bool = typer.Option(False, "--allow-duplicate",
                                         help="Add it even when a company has the same domain or name."),
    field: list[str] = typer.Option([], "--field", help=params.FIELD_HELP),
    as_json: output.Json = False,
) -> None:
    """Add a company."""
    with state(ctx).write() as (session, actor):
        data = {"name": name, "domain": domain, "industry": industry, "size": size, "address": address,
                "notes": notes, "owner_id": refs.user_id(session, owner),
                "parent_id": companies.resolve_company(session, parent).id if parent else None}
        company = companies.create_company(session, data=data, actor=actor, allow_duplicate=allow_duplicate,
                                           custom=params.custom_fields(field)[0])
    if as_json:
        output.emit_json(company)
    else:
        output.say(f"added company #{company.id} {company.name}")


@app.command("list")
def list_(
    ctx: typer.Context,
    search: str | None = typer.Option(None, "--search", "-s", help="Search names and domains."),
    owner: str | None = typer.Option(None, "--owner", help="Only companies owned by this user."),
    archived: bool = typer.Option(False, "--archived", help="List archived companies instead."),
    sort: str = typer.Option("name", "--sort", help="name, created, or custom.FIELD (a typed custom field)."),
    custom: list[str] = typer.Option([], "--custom", metavar="FILTER",
                                     help="A typed custom field's filter: tier=gold, seats>=10 (repeat for more)."),
    limit: output.Limit = 50,
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """List companies, a page at a time."""
    st = state(ctx)
    with st.read() as (session, _actor):
        page = companies.list_companies(session, query=search, owner_id=refs.user_id(session, owner),
                                        archived=archived, sort=sort, after=after, limit=limit, with_total=True,
                                        custom=custom or None)
    if as_json:
        output.emit_page_json(page)
        return
    output.table(["ID", "Name", "Domain", "Industry", "Owner", "Created"],
                 [(c.id, c.name, c.domain, c.industry, c.owner_login, output.local_time(c.created_at, st.zone))
                  for c in page.items])
    output.more_hint(page, shown=len(page.items))


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    as_json: output.Json = False,
) -> None:
    """Show a company with its first contacts and deals."""
    st = state(ctx)
    with st.read() as (session, _actor):
        company = companies.resolve_company(session, ref)
        people = contacts.list_contacts(session, filters={"company_id": company.id}, limit=10, with_total=True)
        its_deals = deals.list_deals(session, company_id=company.id, limit=10, with_total=True)
        group = companies.subsidiaries(session, company_id=company.id)
    if as_json:
        output.emit_json({**company.model_dump(), "contacts": people.items, "deals": its_deals.items,
                          "subsidiaries": [{"id": i, "name": n} for i, n in group]})
        return
    output.details([
        ("Name", company.name), ("Part of", f"{company.parent_name} (#{company.parent_id})" if company.parent_id else None),
        ("Subsidiaries", ", ".join(f"{n} (#{i})" for i, n in group) or None),
        ("Domain", company.domain), ("Industry", company.industry), ("Size", company.size),
        ("Address", company.address), ("Owner", company.owner_login), ("Notes", company.notes),
        ("Archived", "yes" if company.archived else None),
        ("Created", output.local_time(company.created_at, st.zone)), ("Version", company.version),
    ], title=f"Company #{company.id}")
    if people.items:
        output.table(["ID", "Name", "Email", "Stage"], [(c.id, c.full_name, c.email, c.lifecycle) for c in people.items],
                     title=f"Contacts ({people.total})")
    if its_deals.items:
        output.table(["ID", "Deal", "Stage", "Amount", "Status"],
                     [(d.id, d.title, d.stage_name, output.money(d.amount_minor, d.currency), d.status)
                      for d in its_deals.items], title=f"Deals ({its_deals.total})")


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    name: str | None = typer.Option(None, "--name"),
    domain: str | None = typer.Option(None, "--domain", help='Web domain ("" to clear).'),
    industry: str | None = typer.Option(None, "--industry"),
    size: str | None = typer.Option(None, "--size"),
    address: str | None = typer.Option(None, "--address"),
    owner: str | None = typer.Option(None, "--owner", help='Owner login ("" for none).'),
    parent: str | None = typer.Option(None, "--parent", help='The company it belongs to ("" for none).'),
    notes: str | None = typer.Option(None, "--notes"),
    field: list[str] = typer.Option([], "--field", help=params.FIELD_HELP),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    allow_duplicate: bool = typer.Option(False, "--allow-duplicate",
                                         help="Keep the change even when another company has the name or domain."),
    as_json: output.Json = False,
) -> None:
    """Change a company's fields; only the options given change."""
    with state(ctx).write() as (session, actor):
        company = companies.resolve_company(session, ref)
        changes = {key: value for key, value in (("name", name), ("domain", domain), ("industry", industry),
                                                 ("size", size), ("address", address), ("notes", notes))
                   if value is not None}
        changes.update(refs.link_changes(session, owner=owner))
        if parent is not None:
            changes["parent_id"] = companies.resolve_company(session, parent).id if parent.strip() else None
        company = companies.update_company(session, company_id=company.id, changes=changes, actor=actor,
                                           version=version, allow_duplicate=allow_duplicate)
        if field:
            set_, clear = params.custom_fields(field)
            fields.set_values(session, kind="company", record_id=company.id, set_=set_, remove=clear, actor=actor,
                              version=None if changes else version)
            company = companies.get_company(session, company_id=company.id)
    if as_json:
        output.emit_json(company)
    else:
        output.say(f"updated company #{company.id} {company.name} (version {company.version})")


add_archive_commands(
    app, noun="company", ref_help=REF_HELP, version_help=VERSION_HELP, find=companies.resolve_company,
    set_archived=lambda session, record_id, archived, actor, version: companies.set_company_archived(
        session, company_id=record_id, archived=archived, actor=actor, version=version),
    label=lambda record: record.name)


# `crm company dupes` and `crm company merge` live in cli/dupes.py (issue 7)
from crm_tui.cli import dupes as _dupes  # noqa: E402 - after this module's own commands
from crm_tui.cli import purchases as _purchases  # noqa: E402

app.command("dupes")(_dupes.company_dupes)
app.command("merge")(_dupes.company_merge)
app.command("not-dupe")(_dupes.company_not_dupe)
app.command("purchases")(_purchases.company_purchases)  # cli/purchases.py (issue 22)


# `bulk`: the list's filters, then one change to every record they pick (cli/bulk.py)
app.command("bulk")(bulk.company_bulk)
