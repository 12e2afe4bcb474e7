"""`crm contact|company|deal bulk`: one change to every record a list's filters pick, with --dry-run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from crm_tui.cli import deal_filters as df
from crm_tui.cli import output, refs
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput

SET_HELP = ("FIELD=VALUE to set on each (repeatable): owner=bob; contacts: lifecycle, source; "
            "companies: industry, size; deals: stage; or a typed custom field: segment=smb.")
DRY_RUN_HELP = "Show what would change, and change nothing."
UNDO_HELP = "Undo your last bulk change of these records instead."


def run_bulk(ctx: typer.Context, kind: str, select: Callable[[Any], Any], *, set_: list[str], add_tag: list[str],
             remove_tag: list[str], archive: bool, task: str | None, due: str | None, export_to: str | None,
             dry_run: bool, undo: bool, as_json: bool) -> None:
    """Build the changes from the options, then apply them in one transaction (or undo the last)."""
    from crm_tui.services import bulk_edit, files

    st = state(ctx)
    with st.write() as (session, actor):
        if undo:
            last = bulk_edit.last_undoable(session, actor=actor, kind=kind)
            if last is None:
                raise InvalidInput(f"no bulk change of {kind} records of yours to undo")
            result = bulk_edit.undo(session, bulk_id=last.id, actor=actor)
        else:
            selection = select(session)
            changes = [bulk_edit.parse_set(session, kind, pair) for pair in set_]
            changes += [bulk_edit.Change("add_tag", value=t) for t in add_tag]
            changes += [bulk_edit.Change("remove_tag", value=t) for t in remove_tag]
            if archive:
                changes.append(bulk_edit.Change("archive"))
            if task is not None:
                changes.append(bulk_edit.task_change(title=task, due=due, actor=actor))
            elif due is not None:
                raise InvalidInput("--due goes with --task")
            if export_to:
                with files.private_text_file(export_to, what="the export") as out:  # 0600, never half-written
                    n = bulk_edit.export_csv(session, selection=selection, out=out, actor=actor)
                output.say(f"exported {n:,} {kind} records to {export_to}")
                if not changes:
                    return
            result = bulk_edit.apply(session, selection=selection, changes=changes, actor=actor, dry_run=dry_run)
            bulk_edit.refuse_if_none(result)
    if as_json:
        output.emit_json({"bulk_id": result.bulk_id, "matched": result.matched, "changed": result.changed,
                          "unchanged": result.unchanged, "refused": result.refused, "dry_run": result.dry_run,
                          "refused_records": [{"id": i, "name": n} for i, n in result.refused_named],
                          "summary": result.summary})
        return
    output.say(result.message)
    if result.refused_named and not as_json:
        output.table(["ID", "Left alone"], result.refused_named)
    if result.bulk_id and not dry_run and not undo:
        output.say(f"bulk change #{result.bulk_id}; `crm {kind} bulk --undo` undoes it")


def options() -> dict[str, Any]:
    """The change options every `bulk` command takes."""
    return dict(
        set_=typer.Option([], "--set", help=SET_HELP),
        add_tag=typer.Option([], "--add-tag", help="Add this tag to each contact (repeatable)."),
        remove_tag=typer.Option([], "--remove-tag", help="Remove this tag from each contact (repeatable)."),
        archive=typer.Option(False, "--archive", help="Archive each."),
        task=typer.Option(None, "--task", help="Add a task with this title to each, yours."),
        due=typer.Option(None, "--due", help='The task\'s due time, e.g. "+2d", "next fri 9am".'),
        export_to=typer.Option(None, "--export", help="Write the records to this CSV file (the export's columns)."),
        dry_run=typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
        undo=typer.Option(False, "--undo", help=UNDO_HELP),
    )


_O = options()


def contact_bulk(
    ctx: typer.Context,
    search: str | None = typer.Option(None, "--search", "-s", help="Search names, emails, phones."),
    lifecycle: list[str] = typer.Option([], "--lifecycle", help="Only these lifecycle stages (repeatable)."),
    owner: str | None = typer.Option(None, "--owner", help="Only contacts owned by this user."),
    tag: str | None = typer.Option(None, "--tag", help="Only contacts with this tag."),
    source: str | None = typer.Option(None, "--source", help="Only contacts from this source."),
    company: str | None = typer.Option(None, "--company", help="Only contacts of this company."),
    archived: bool = typer.Option(False, "--archived", help="Archived contacts instead."),
    custom: list[str] = typer.Option([], "--custom", metavar="FILTER",
                                     help="A typed custom field's filter, as `crm contact list --custom`."),
    set_: list[str] = _O["set_"], add_tag: list[str] = _O["add_tag"], remove_tag: list[str] = _O["remove_tag"],
    archive: bool = _O["archive"], task: str | None = _O["task"], due: str | None = _O["due"],
    export_to: str | None = _O["export_to"], dry_run: bool = _O["dry_run"], undo: bool = _O["undo"],
    as_json: output.Json = False,
) -> None:
    """Change every contact `crm contact list` would show with the same filters."""
    from crm_tui.services.bulk_edit import Selection

    def select(session):  # as cli/contacts.contact_filters reads them (imported from there, a cycle)
        filters = {"lifecycle": lifecycle or None, "tag": tag, "source": source, "archived": archived,
                   "owner_id": refs.user_id(session, owner), "company_id": refs.company_id(session, company)}
        if custom:
            filters["custom"] = custom
        return Selection("contact", all_matching=True, filters=filters, query=search)

    run_bulk(ctx, "contact", select, set_=set_, add_tag=add_tag, remove_tag=remove_tag, archive=archive, task=task,
             due=due, export_to=export_to, dry_run=dry_run, undo=undo, as_json=as_json)


def company_bulk(
    ctx: typer.Context,
    search: str | None = typer.Option(None, "--search", "-s", help="Search names and domains."),
    owner: str | None = typer.Option(None, "--owner", help="Only companies owned by this user."),
    archived: bool = typer.Option(False, "--archived", help="Archived companies instead."),
    set_: list[str] = _O["set_"], add_tag: list[str] = _O["add_tag"], remove_tag: list[str] = _O["remove_tag"],
    archive: bool = _O["archive"], task: str | None = _O["task"], due: str | None = _O["due"],
    export_to: str | None = _O["export_to"], dry_run: bool = _O["dry_run"], undo: bool = _O["undo"],
    as_json: output.Json = False,
) -> None:
    """Change every company `crm company list` would show with the same filters."""
    from crm_tui.services.bulk_edit import Selection

    def select(session):
        return Selection("company", all_matching=True, query=search,
                         filters={"owner_id": refs.user_id(session, owner), "archived": archived})

    run_bulk(ctx, "company", select, set_=set_, add_tag=add_tag, remove_tag=remove_tag, archive=archive, task=task,
             due=due, export_to=export_to, dry_run=dry_run, undo=undo, as_json=as_json)


def deal_bulk(
    ctx: typer.Context,
    search: df.Search = None, pipeline: df.Pipeline = None, stage: df.Stage = [], status: df.Status = [],
    owner: df.Owner = None, company: df.Company = None, contact: df.Contact = None, tag: df.Tag = None,
    close_from: df.CloseFrom = None, close_to: df.CloseTo = None, min_amount: df.MinAmount = None,
    max_amount: df.MaxAmount = None, field: df.Field = [],
    archived: bool = typer.Option(False, "--archived", help="Archived deals instead."),
    set_: list[str] = _O["set_"], add_tag: list[str] = _O["add_tag"], remove_tag: list[str] = _O["remove_tag"],
    archive: bool = _O["archive"], task: str | None = _O["task"], due: str | None = _O["due"],
    export_to: str | None = _O["export_to"], dry_run: bool = _O["dry_run"], undo: bool = _O["undo"],
    as_json: output.Json = False,
) -> None:
    """Change every deal `crm deal list` would show with the same filters (--set stage=NAME moves them)."""
    from crm_tui.services.bulk_edit import Selection

    st = state(ctx)

    def select(session):
        filters = df.parse(session, st, status=status, pipeline=pipeline, stage=stage, owner=owner, company=company,
                           contact=contact, tag=tag, close_from=close_from, close_to=close_to,
                           min_amount=min_amount, max_amount=max_amount, field=field, archived=archived)
        return Selection("deal", all_matching=True, query=search, filters=filters)

    run_bulk(ctx, "deal", select, set_=set_, add_tag=add_tag, remove_tag=remove_tag, archive=archive, task=task,
             due=due, export_to=export_to, dry_run=dry_run, undo=undo, as_json=as_json)
