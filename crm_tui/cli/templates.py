"""`crm template`: email templates with merge fields: add, list, show, edit, archive, preview."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from crm_tui.cli import output, refs
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput
from crm_tui.services import email_templates as templates

app = typer.Typer(name="template", help="Email templates: add, list, show, edit, archive, preview.",
                  no_args_is_help=True)

REF = typer.Argument(..., help="The template's name (any case) or id.")
BODY_FILE_HELP = "Read the body from this file ('-': standard input)."
FIELDS_HELP = ("Merge fields: {{ contact.first_name }}, {{ company.name }}, {{ deal.title }}, {{ me.name }}, "
               "{{ contact.custom.NAME }}; {{ x | default(\"there\") }} where one may have no value.")


def read_body(body: str | None, body_file: Path | None) -> str | None:
    """The body given inline or in a file (or on standard input), or None when neither is."""
    if body is not None and body_file is not None:
        raise InvalidInput("give --body or --body-file, not both")
    if body_file is None:
        return body
    try:
        if str(body_file) == "-":
            return sys.stdin.read()
        return body_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{body_file} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {body_file}: {exc.strerror}") from None


def _json(t: templates.TemplateRead) -> dict:
    return {"id": t.id, "name": t.name, "subject": t.subject, "body": t.body, "team": t.shared, "owner": t.owner,
            "archived": t.archived, "version": t.version}


def _done(t: templates.TemplateRead, what: str, as_json: bool) -> None:
    if as_json:
        output.emit_json(_json(t))
    else:
        output.say(f"{what} template #{t.id} {t.name!r} ({'team' if t.shared else 'own: ' + (t.owner or '')})")


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The template's name, unique."),
    subject: str = typer.Option(..., "--subject", help="The subject; merge fields work here too."),
    body: str | None = typer.Option(None, "--body", help="The body. " + FIELDS_HELP),
    body_file: Path | None = typer.Option(None, "--body-file", help=BODY_FILE_HELP),
    team: bool = typer.Option(False, "--team", help="The team's template (needs the right to edit all templates)."),
    as_json: output.Json = False,
) -> None:
    """Add a template: your own, or with --team the whole team's."""
    text = read_body(body, body_file)
    with state(ctx).write() as (session, actor):
        found = templates.add_template(session, name=name, subject=subject, body=text or "", shared=team, actor=actor)
    _done(found, "Added", as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    archived: bool = typer.Option(False, "--archived", help="The archived templates instead."),
    as_json: output.Json = False,
) -> None:
    """The templates you may use: the team's and your own."""
    with state(ctx).read() as (session, actor):
        found = templates.list_templates(session, actor=actor, archived=archived)
    if as_json:
        output.emit_json([_json(t) for t in found])
        return
    output.table(["ID", "Name", "Subject", "Whose"],
                 [(t.id, t.name, t.subject, "team" if t.shared else t.owner) for t in found])


@app.command("show")
def show(ctx: typer.Context, ref: str = REF, as_json: output.Json = False) -> None:
    """A template's subject and body, as written (merge fields unfilled)."""
    with state(ctx).read() as (session, actor):
        found = templates.find_template(session, ref=ref, actor=actor)
    if as_json:
        output.emit_json(_json(found))
        return
    output.details([("Template", f"#{found.id} {found.name}"), ("Whose", "team" if found.shared else found.owner),
                    ("Archived", "yes" if found.archived else None), ("Version", found.version),
                    ("Subject", found.subject)])
    output.say("")
    output.say(found.body)


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = REF,
    name: str | None = typer.Option(None, "--name", help="A new name."),
    subject: str | None = typer.Option(None, "--subject", help="A new subject."),
    body: str | None = typer.Option(None, "--body", help="A new body."),
    body_file: Path | None = typer.Option(None, "--body-file", help=BODY_FILE_HELP),
    team: bool | None = typer.Option(None, "--team/--own", help="Make it the team's, or your own."),
    version: int | None = typer.Option(None, "--version", help="The version you last saw; refuse if it changed since."),
    as_json: output.Json = False,
) -> None:
    """Change a template's name, subject, body, or whose it is."""
    text = read_body(body, body_file)
    if name is None and subject is None and text is None and team is None:
        raise InvalidInput("give what to change: --name, --subject, --body, --body-file, --team or --own")
    with state(ctx).write() as (session, actor):
        found = templates.find_template(session, ref=ref, actor=actor)
        changed = templates.update_template(session, template_id=found.id, name=name, subject=subject, body=text,
                                            shared=team, version=version, actor=actor)
    _done(changed, "Updated", as_json)


@app.command("archive")
def archive(ctx: typer.Context, ref: str = REF, as_json: output.Json = False) -> None:
    """Archive a template: it leaves the lists and pickers; mail sent with it stays."""
    _set_archived(ctx, ref, True, as_json)


@app.command("unarchive")
def unarchive(ctx: typer.Context, ref: str = REF, as_json: output.Json = False) -> None:
    """Bring an archived template back."""
    _set_archived(ctx, ref, False, as_json)


def _set_archived(ctx: typer.Context, ref: str, archived: bool, as_json: bool) -> None:
    with state(ctx).write() as (session, actor):
        found = templates.find_template(session, ref=ref, actor=actor)
        changed = templates.archive_template(session, template_id=found.id, archived=archived, actor=actor)
    _done(changed, "Archived" if archived else "Restored", as_json)


@app.command("preview")
def preview(
    ctx: typer.Context,
    ref: str = REF,
    contact: str | None = typer.Option(None, "--contact", help="The contact (id or email) to fill it for."),
    deal: str | None = typer.Option(None, "--deal", help="A deal (id) for {{ deal.* }}."),
    company: str | None = typer.Option(None, "--company", help="A company for {{ company.* }} (else the contact's)."),
    as_json: output.Json = False,
) -> None:
    """The template as it reads for a contact (and a deal): a merge field with no value is an error."""
    with state(ctx).read() as (session, actor):
        found = templates.find_template(session, ref=ref, actor=actor)
        contact_id = refs.contact_id(session, contact)
        company_id = refs.company_id(session, company)
        deal_id = _deal_id(deal)
        rendered = templates.preview(session, template_id=found.id, contact_id=contact_id, company_id=company_id,
                                     deal_id=deal_id, actor=actor)
    if as_json:
        output.emit_json({"subject": rendered.subject, "body": rendered.body})
        return
    output.say(f"Subject: {rendered.subject}")
    output.say("")
    output.say(rendered.body)


def _deal_id(ref: str | None) -> int | None:
    if ref is None:
        return None
    text = ref.strip().lstrip("#")
    if not text.isdigit():
        raise InvalidInput(f"deal {ref!r}: give the deal's id (a number)")
    return int(text)
