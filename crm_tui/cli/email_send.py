"""`crm email send`: an email from the CRM, from a template or written, logged on the timeline of
its contact, company and deal, and sent through the outbox after it is stored."""

from __future__ import annotations

from pathlib import Path

import typer

from crm_tui.cli import output, refs
from crm_tui.cli.context import state
from crm_tui.cli.templates import read_body
from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.services import email_templates, mail_send
from crm_tui.workflows.email import send_queued, smtp_settings

app = typer.Typer(name="email", help="Send email from the CRM: logged on the contact's, company's and deal's "
                  "timeline.", no_args_is_help=True)


@app.callback()
def _email() -> None:
    """Send email from the CRM: logged on the contact's, company's and deal's timeline."""


@app.command("send")
def send(
    ctx: typer.Context,
    contact: str | None = typer.Option(None, "--contact", help="The contact (id or email): To is their email."),
    deal: str | None = typer.Option(None, "--deal", help="A deal (id) it is about; logged on it too."),
    company: str | None = typer.Option(None, "--company", help="The company (else the contact's or the deal's)."),
    template: str | None = typer.Option(None, "--template", help="A template (name or id), filled for the contact."),
    subject: str | None = typer.Option(None, "--subject", help="The subject (without --template)."),
    body: str | None = typer.Option(None, "--body", help="The body (without --template)."),
    body_file: Path | None = typer.Option(None, "--body-file", help="Read the body from this file ('-': stdin)."),
    to: list[str] = typer.Option([], "--to", help="Send to this address instead of the record's (repeatable)."),
    cc: list[str] = typer.Option([], "--cc", help="Copy to this address (repeatable, or comma-separated)."),
    in_reply_to: str | None = typer.Option(None, "--in-reply-to", help="The Message-ID this email answers."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the email as it would go; store and send nothing."),
    as_json: output.Json = False,
) -> None:
    """Send an email to a contact (or a deal's or company's contact) from your own address: stored
    as an email activity on their timeline, the deal's and the company's, and sent after that is saved."""
    text = read_body(body, body_file)
    if template is not None and (subject is not None or text is not None):
        raise InvalidInput("give --template, or --subject with --body or --body-file, not both")
    if template is None and (subject is None or text is None):
        raise InvalidInput("give --template, or --subject with --body or --body-file")
    if contact is None and deal is None and company is None:
        raise InvalidInput("give the --contact (or --deal or --company) the email is to")
    st = state(ctx)
    smtp = smtp_settings(st.settings)
    if smtp is None and not dry_run:
        raise InvalidInput("email is off: set up [smtp] in config.toml (see `crm secret --help` for the password)")
    now = resolve_now(None)
    with st.write() as (session, actor):
        contact_id = refs.contact_id(session, contact)
        company_id = refs.company_id(session, company)
        deal_id = _deal_id(deal)
        template_id = email_templates.find_template(session, ref=template, actor=actor).id if template else None
        draft = mail_send.draft(session, actor=actor, contact_id=contact_id, company_id=company_id, deal_id=deal_id,
                                template_id=template_id, subject=subject or "", body=text or "",
                                to=list(to) if to else None, cc=list(cc), in_reply_to=in_reply_to)
        queued = mail_send.send(session, draft=draft, actor=actor, now=now, dry_run=dry_run)
    if dry_run:
        _show(queued, as_json, state_="dry run: nothing stored or sent")
        return
    report = send_queued(st.db, smtp, now=now)
    if queued.outbox_id in report.sent:
        state_ = "sent"
    elif any(i == queued.outbox_id for i, _ in report.failed):
        state_ = "refused by the mail server: " + next(e for i, e in report.failed if i == queued.outbox_id)
    else:
        state_ = f"queued: {report.error or 'not sent yet'}; it goes out on a later run (`crm workflows run`)"
    _show(queued, as_json, state_=state_)


def _show(queued, as_json: bool, *, state_: str) -> None:
    if as_json:
        output.emit_json({"outbox_id": queued.outbox_id, "email_id": queued.email_id,
                          "message_id": queued.message_id, "from": queued.from_addr, "to": queued.to,
                          "cc": queued.cc, "subject": queued.subject, "body": queued.body,
                          "in_reply_to": queued.in_reply_to, "activities": queued.activity_ids, "state": state_,
                          "warning": queued.warning})
        return
    output.details([("From", queued.from_addr), ("To", ", ".join(queued.to)), ("Cc", ", ".join(queued.cc)),
                    ("Subject", queued.subject), ("In-Reply-To", queued.in_reply_to)])
    output.say("")
    output.say(queued.body.rstrip("\n"))
    output.say("")
    logged = f", logged as activity #{', #'.join(map(str, queued.activity_ids))}" if queued.activity_ids else ""
    output.say(f"({state_}{logged})")
    if queued.warning:
        output.say(f"warning: {queued.warning}")


def _deal_id(ref: str | None) -> int | None:
    if ref is None:
        return None
    text = ref.strip().lstrip("#")
    if not text.isdigit():
        raise InvalidInput(f"deal {ref!r}: give the deal's id (a number)")
    return int(text)
