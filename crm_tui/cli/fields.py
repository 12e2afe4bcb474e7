"""`crm field`: typed custom fields of contacts, companies and deals (admins define them)."""

from __future__ import annotations

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.services import fields

app = typer.Typer(name="field", help="Custom fields: add, list, edit, archive, check, promote.",
                  no_args_is_help=True)

KIND = typer.Argument(..., help="contact, company or deal.")
KEY = typer.Argument(..., help="The field's name, as records' custom values name it.")
TYPE_HELP = "text, number, money, date, choice, multi-choice, yes/no or url."


def _row(f: fields.FieldRead) -> tuple:
    choices = ", ".join(o + (" (retired)" if o in f.retired else "") for o in f.options)
    return (f.kind, f.key, f.label if f.label != f.key else "", f.type_label, "yes" if f.required else "",
            fields.display(f, f.default), choices, "archived" if f.archived else "")


def _json(f: fields.FieldRead) -> dict:
    return {"id": f.id, "kind": f.kind, "key": f.key, "label": f.label, "type": f.type, "required": f.required,
            "default": f.default, "options": list(f.options), "retired": list(f.retired), "archived": f.archived,
            "version": f.version}


def _done(f: fields.FieldRead, what: str, as_json: bool) -> None:
    if as_json:
        output.emit_json(_json(f))
    else:
        output.say(f"{what} {f.kind} field {f.key!r} ({f.type_label})")


@app.command("add")
def add(
    ctx: typer.Context,
    kind: str = KIND,
    key: str = KEY,
    type_: str = typer.Option(..., "--type", help=TYPE_HELP),
    options: list[str] = typer.Option([], "--options", help="The choices, comma-separated: smb,mid,enterprise."),
    required: bool = typer.Option(False, "--required", help="A new record must have it."),
    default: str | None = typer.Option(None, "--default", help="The value a new record gets when none is given."),
    label: str | None = typer.Option(None, "--label", help="The name people see (the field's name by default)."),
    as_json: output.Json = False,
) -> None:
    """Define a field. Over a name records already use, every value must fit the type: the ones
    that do not are listed and nothing changes; the others are converted (a promotion)."""
    with state(ctx).write() as (session, actor):
        field = fields.add_field(session, kind=kind, key=key, type=type_, options=options, required=required,
                                 default=default, label=label, actor=actor)
    _done(field, "Added", as_json)


@app.command("promote")
def promote(
    ctx: typer.Context,
    kind: str = KIND,
    key: str = KEY,
    type_: str = typer.Option(..., "--type", help=TYPE_HELP),
    options: list[str] = typer.Option([], "--options", help="The choices, comma-separated."),
    required: bool = typer.Option(False, "--required", help="A new record must have it."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the values that do not fit."),
    as_json: output.Json = False,
) -> None:
    """Give an untyped custom value a type: check every record's value, then define the field."""
    if dry_run:
        check(ctx, kind, key, type_, options, as_json)
        return
    add(ctx, kind, key, type_, options, required, None, None, as_json)


@app.command("check")
def check(
    ctx: typer.Context,
    kind: str = KIND,
    key: str = KEY,
    type_: str = typer.Option(..., "--type", help=TYPE_HELP),
    options: list[str] = typer.Option([], "--options", help="The choices, comma-separated."),
    as_json: output.Json = False,
) -> None:
    """List the records whose value of KEY would not fit the type (changes nothing)."""
    with state(ctx).read() as (session, _actor):
        bad = fields.check_existing(session, kind=kind, key=key, type=type_, options=options)
    if as_json:
        output.emit_json({"bad": [{"id": b.record_id, "value": b.value, "error": b.error} for b in bad]})
        return
    if not bad:
        output.say(f"Every {fields.check_kind(kind)}'s {key!r} fits")
        return
    output.table(["ID", "Value", "Why"], [(b.record_id, str(b.value), b.error) for b in bad])
    raise typer.Exit(1)


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: str | None = typer.Argument(None, help="contact, company or deal; every kind when left out."),
    archived: bool = typer.Option(False, "--archived", help="Show archived fields too."),
    as_json: output.Json = False,
) -> None:
    """The custom fields, kind by kind, in the order forms show them."""
    with state(ctx).read() as (session, _actor):
        rows = fields.list_fields(session, kind=kind, include_archived=archived)
    if as_json:
        output.emit_json({"items": [_json(f) for f in rows]})
        return
    if not rows:
        output.say("No custom fields yet: `crm field add contact segment --type choice --options smb,mid`")
        return
    output.table(["Kind", "Field", "Label", "Type", "Required", "Default", "Choices", ""], [_row(f) for f in rows])


@app.command("edit")
def edit(
    ctx: typer.Context,
    kind: str = KIND,
    key: str = KEY,
    label: str | None = typer.Option(None, "--label", help="The name people see."),
    required: bool | None = typer.Option(None, "--required/--optional", help="Whether a new record must have it."),
    default: str | None = typer.Option(None, "--default", help="A new default value."),
    no_default: bool = typer.Option(False, "--no-default", help="Remove the default."),
    add_option: list[str] = typer.Option([], "--add-option", help="Offer new choices (comma-separated)."),
    retire_option: list[str] = typer.Option([], "--retire-option",
                                            help="Stop offering choices; records keep them."),
    restore_option: list[str] = typer.Option([], "--restore-option", help="Offer a retired choice again."),
    as_json: output.Json = False,
) -> None:
    """Change a field's label, whether it is required, its default or its choices."""
    with state(ctx).write() as (session, actor):
        field = fields.edit_field(session, kind=kind, key=key, label=label, required=required, default=default,
                                  clear_default=no_default, add_options=add_option, retire_options=retire_option,
                                  restore_options=restore_option, actor=actor)
    _done(field, "Changed", as_json)


@app.command("archive")
def archive(
    ctx: typer.Context,
    kind: str = KIND,
    key: str = KEY,
    as_json: output.Json = False,
) -> None:
    """Archive a field: records keep their values, as untyped custom values."""
    _set_archived(ctx, kind, key, True, as_json)


@app.command("unarchive")
def unarchive(
    ctx: typer.Context,
    kind: str = KIND,
    key: str = KEY,
    as_json: output.Json = False,
) -> None:
    """Bring an archived field back (its values are checked again)."""
    _set_archived(ctx, kind, key, False, as_json)


def _set_archived(ctx: typer.Context, kind: str, key: str, archived: bool, as_json: bool) -> None:
    with state(ctx).write() as (session, actor):
        field = fields.set_field_archived(session, kind=kind, key=key, archived=archived, actor=actor)
    _done(field, "Archived" if archived else "Unarchived", as_json)
