"""`crm view`: the team's saved contact lists (the app's Lists panel): list, rename, update, delete."""

from __future__ import annotations

import sys

import typer

from crm_tui.cli import output
from crm_tui.cli.contacts import ARCHIVED, COMPANY, LIFECYCLE, OWNER, SEARCH, SORT_HELP, SOURCE, TAG, contact_filters
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput
from crm_tui.services import views

app = typer.Typer(name="view", help="Saved contact lists: list, rename, update, delete.", no_args_is_help=True)

NAME_HELP = "The list's name (any case) or id."
VERSION_HELP = "The version you last saw; refuse the change if the list changed since."


@app.command("list")
def list_(ctx: typer.Context, as_json: output.Json = False) -> None:
    """The saved lists you can see: the team's shared ones and your own."""
    with state(ctx).read() as (session, actor):
        found = views.list_views(session, entity="contact", actor=actor)
    if as_json:
        output.emit_json(found)
        return
    output.table(["ID", "Name", "Search", "Filters", "Sort", "Shared"],
                 [(v.id, v.name, v.query, ", ".join(f"{k}={val}" for k, val in v.filters.items()), v.sort,
                   "yes" if v.shared else "only you") for v in found])


@app.command("rename")
def rename(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    new: str = typer.Argument(..., help="The new name."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
) -> None:
    """Rename a saved list."""
    with state(ctx).write() as (session, actor):
        view = views.find_view(session, name=name, actor=actor)
        renamed = views.update_view(session, view_id=view.id, name=new, actor=actor, version=version)
    output.say(f"renamed the list #{renamed.id} {view.name!r} to {renamed.name!r}")


@app.command("update")
def update(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    search: str | None = SEARCH,
    lifecycle: list[str] = LIFECYCLE,
    owner: str | None = OWNER,
    tag: str | None = TAG,
    source: str | None = SOURCE,
    company: str | None = COMPANY,
    archived: bool = ARCHIVED,
    sort: str | None = typer.Option(None, "--sort", help=SORT_HELP + " Unchanged if not given."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Replace a saved list's search and filters with these (the options of `crm contact list`);
    its sort stays unless --sort is given."""
    given = (search, lifecycle or None, owner, tag, source, company, archived or None, sort)
    if all(value is None for value in given):
        raise InvalidInput("give the list's new --search, filters (as for `crm contact list`) or --sort")
    with state(ctx).write() as (session, actor):
        view = views.find_view(session, name=name, actor=actor)
        filters = contact_filters(session, lifecycle=lifecycle, owner=owner, tag=tag, source=source,
                                  company=company, archived=archived)
        filters = {key: value for key, value in filters.items() if value not in (None, False, [])}
        updated = views.update_view(session, view_id=view.id, query=search or "", filters=filters, sort=sort,
                                    actor=actor, version=version)
    if as_json:
        output.emit_json(updated)
    else:
        output.say(f"updated the list #{updated.id} {updated.name!r} (version {updated.version})")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=NAME_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking."),
) -> None:
    """Delete a saved list (its contacts stay; only the list goes). Asks first."""
    st = state(ctx)
    with st.read() as (session, actor):
        view = views.find_view(session, name=name, actor=actor)
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput(f"deleting the list {view.name!r} is for everyone it is shared with; "
                               "pass --yes to confirm")
        if not typer.confirm(f"Delete the list {view.name!r}?", default=False):
            raise typer.Exit(1)
    with st.write() as (session, actor):
        views.delete_view(session, view_id=view.id, actor=actor)
    output.say(f"deleted the list #{view.id} {view.name!r}")
