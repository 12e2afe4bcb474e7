"""`crm quote`: create a quote from a deal's items, list and show quotes, render one to PDF or
Markdown, send it (the PDF attached, logged on the deal), accept (winning the deal), decline,
revise, and edit a draft."""

from __future__ import annotations

from pathlib import Path

import typer

from crm_tui.cli import output, params
from crm_tui.cli.context import state
from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.services import quotes
from crm_tui.services.words import plural

app = typer.Typer(name="quote", help="Quotes: create from a deal's items, list, show, render, send, accept, "
                  "decline, revise.", no_args_is_help=True)

REF_HELP = "The quote's number (Q-2026-0042) or id."
REVISION_HELP = "Which revision (the latest by default)."
VERSION_HELP = "The version you last saw; refuse the change if the quote changed since."


@app.callback()
def _quote() -> None:
    """Quotes: create from a deal's items, list, show, render, send, accept, decline, revise."""


def _show_one(quote: quotes.QuoteRead, as_json: bool, message: str | None = None) -> None:
    if as_json:
        output.emit_json(quote)
        return
    if message:
        output.say(message)
        return
    money = lambda minor: output.money(minor, quote.currency)  # noqa: E731
    output.details([
        ("Quote", quote.label), ("Id", quote.id), ("Status", quote.status), ("Deal", f"#{quote.deal_id} {quote.deal_title}"),
        ("Company", quote.company_name), ("Contact", quote.contact_name),
        ("Valid until", output.day(quote.valid_until)), ("Subtotal", money(quote.subtotal_minor)),
        ("Discount", money(quote.discount_minor) if quote.discount_minor else None), ("Tax", money(quote.tax_minor)),
        ("Total", money(quote.total_minor)), ("Terms", quote.terms or None), ("Notes", quote.notes or None),
        ("Created by", quote.created_by_login), ("Version", quote.version),
        ("Newer revision", None if quote.latest else "yes: this one is superseded"),
    ])
    output.table(["#", "SKU", "Item", "Qty", "Unit price", "Discount", "Net", "Tax"],
                 [(i.position, i.sku, i.name, f"{i.quantity.normalize():f}", money(i.unit_price_minor),
                   money(i.discount_minor) if i.discount_minor else "", money(i.net_minor), money(i.tax_minor))
                  for i in quote.items])


def _ref(session, ref: str, revision: int | None = None) -> int:
    return quotes.find_quote(session, ref=ref, revision=revision)


@app.command("create")
def create(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help="The deal's id.", parser=params.record_id),
    valid_until: str | None = typer.Option(None, "--valid-until", help='e.g. "2026-12-31", "+2w", "end of month"; '
                                           "[quotes] valid_days from today by default."),
    terms: str | None = typer.Option(None, "--terms", help="Terms (else [quotes] terms)."),
    notes: str | None = typer.Option(None, "--notes", help="Notes for the customer."),
    as_json: output.Json = False,
) -> None:
    """Make a draft quote from the deal's items, numbered Q-YEAR-NNNN."""
    st = state(ctx)
    config = st.settings.quotes
    with st.write() as (session, actor):
        quote = quotes.create_quote(session, actor=actor, deal_id=deal_id, valid_until=valid_until, terms=terms,
                                    notes=notes, valid_days=config.valid_days, default_terms=config.terms)
    _show_one(quote, as_json, f"created quote {quote.label} (#{quote.id}) for {quote.deal_title}: "
                              f"{output.money(quote.total_minor, quote.currency)}, {plural(len(quote.items), 'item')}, "
                              f"valid until {output.day(quote.valid_until)}")


@app.command("list")
def list_(
    ctx: typer.Context,
    deal: int | None = typer.Option(None, "--deal", help="Only this deal's quotes (its id).", parser=params.record_id),
    status: str | None = typer.Option(None, "--status", help="draft, sent, accepted, declined or expired."),
    limit: output.Limit = 50,
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """List quotes, newest first, a page at a time."""
    st = state(ctx)
    with st.read() as (session, _actor):
        page = quotes.list_quotes(session, deal_id=deal, status=status, after=after, limit=limit)
    if as_json:
        output.emit_page_json(page)
        return
    output.table(["ID", "Quote", "Deal", "Status", "Total", "Valid until"],
                 [(q.id, q.label, q.deal_title, q.status, output.money(q.total_minor, q.currency),
                   output.day(q.valid_until)) for q in page.items])
    output.more_hint(page, shown=len(page.items))


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    revision: int | None = typer.Option(None, "--revision", help=REVISION_HELP),
    as_json: output.Json = False,
) -> None:
    """Show a quote: its totals, terms and items."""
    st = state(ctx)
    with st.read() as (session, _actor):
        quote = quotes.get_quote(session, quote_id=_ref(session, ref, revision))
    _show_one(quote, as_json)


@app.command("render")
def render(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    out: Path = typer.Option(..., "--output", "-o", help="The file to write: .pdf or .md."),
    fmt: str | None = typer.Option(None, "--format", help="pdf or md (else from the file's name)."),
    revision: int | None = typer.Option(None, "--revision", help=REVISION_HELP),
) -> None:
    """Write a quote as PDF or Markdown, with the letterhead of [quotes] in config.toml. A sent
    quote's PDF is the one that was sent."""
    from crm_tui.services import quote_render

    kind = (fmt or out.suffix.lstrip(".")).lower()
    kind = {"markdown": "md"}.get(kind, kind)
    if kind not in ("pdf", "md"):
        raise InvalidInput("give -o FILE.pdf or FILE.md, or --format pdf|md")
    st = state(ctx)
    with st.read() as (session, _actor):
        quote = quotes.get_quote(session, quote_id=_ref(session, ref, revision))
        stored = quotes.load_pdf(session, quote_id=quote.id) if kind == "pdf" else None
    if kind == "md":
        data = quote_render.render_markdown(quote, st.settings.quotes).encode("utf-8")
    else:
        data = stored or quote_render.render_pdf(quote, st.settings.quotes)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror}") from None
    output.say(f"wrote {quote.label} to {out} ({len(data):,} bytes)")


@app.command("send")
def send(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    template: str | None = typer.Option(None, "--template", help="An email template (name or id); else a default "
                                        "subject and body."),
    to: list[str] = typer.Option([], "--to", help="Send to this address instead of the deal's contact (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the email as it would go; store and send nothing."),
    as_json: output.Json = False,
) -> None:
    """Email the quote's PDF to the deal's contact from your own address; a draft becomes sent
    (frozen). Logged on the deal's timeline."""
    from crm_tui.services import email_templates, quote_send
    from crm_tui.workflows.email import send_queued, smtp_settings

    st = state(ctx)
    smtp = smtp_settings(st.settings)
    now = resolve_now(None)
    with st.write() as (session, actor):
        quote_id = _ref(session, ref)
        template_id = email_templates.find_template(session, ref=template, actor=actor).id if template else None
        sent = quote_send.send_quote(session, actor=actor, quote_id=quote_id, email_enabled=smtp is not None,
                                     letterhead=st.settings.quotes, template_id=template_id,
                                     to=list(to) or None, dry_run=dry_run, now=now)
    queued = sent.queued
    if dry_run:
        state_ = "dry run: nothing stored or sent"
    else:
        report = send_queued(st.db, smtp, now=now)
        if queued.outbox_id in report.sent:
            state_ = "sent"
        elif any(i == queued.outbox_id for i, _ in report.failed):
            state_ = "refused by the mail server: " + next(e for i, e in report.failed if i == queued.outbox_id)
        else:
            state_ = f"queued: {report.error or 'not sent yet'}; it goes out on a later run (`crm workflows run`)"
    if as_json:
        output.emit_json({"quote": sent.quote.label, "quote_id": sent.quote.id, "status": sent.quote.status,
                          "outbox_id": queued.outbox_id, "email_id": queued.email_id, "from": queued.from_addr,
                          "to": queued.to, "subject": queued.subject, "body": queued.body,
                          "attachment": sent.attachment, "attachment_size": sent.size, "state": state_,
                          "warning": queued.warning})
        return
    output.details([("From", queued.from_addr), ("To", ", ".join(queued.to)), ("Subject", queued.subject),
                    ("Attachment", f"{sent.attachment} ({sent.size:,} bytes)")])
    output.say("")
    output.say(queued.body.rstrip("\n"))
    output.say("")
    output.say(f"({state_})")
    if queued.warning:
        output.say(f"warning: {queued.warning}")


@app.command("accept")
def accept(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    no_win: bool = typer.Option(False, "--no-win", help="Leave the deal as it is."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """The customer accepted the quote: mark it accepted and the deal won at the quote's total."""
    st = state(ctx)
    with st.write() as (session, actor):
        quote = quotes.accept_quote(session, actor=actor, quote_id=_ref(session, ref), version=version,
                                    mark_won=not no_win)
    won = "" if no_win else f"; deal #{quote.deal_id} won at {output.money(quote.total_minor, quote.currency)}"
    _show_one(quote, as_json, f"quote {quote.label} accepted{won}")


@app.command("decline")
def decline(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """The customer declined the quote."""
    st = state(ctx)
    with st.write() as (session, actor):
        quote = quotes.decline_quote(session, actor=actor, quote_id=_ref(session, ref), version=version)
    _show_one(quote, as_json, f"quote {quote.label} declined")


@app.command("revise")
def revise(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """A new revision of a sent quote (same number): a draft with the deal's items as they are now."""
    st = state(ctx)
    with st.write() as (session, actor):
        quote = quotes.revise_quote(session, actor=actor, quote_id=_ref(session, ref), version=version)
    _show_one(quote, as_json, f"created {quote.label} (#{quote.id}), a draft: "
                              f"{output.money(quote.total_minor, quote.currency)}, {plural(len(quote.items), 'item')}")


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    valid_until: str | None = typer.Option(None, "--valid-until", help='e.g. "2026-12-31" or "+2w".'),
    terms: str | None = typer.Option(None, "--terms", help="The terms."),
    notes: str | None = typer.Option(None, "--notes", help="The notes."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Change a draft's validity, terms or notes (a sent quote is frozen: revise it)."""
    changes = {k: val for k, val in (("valid_until", valid_until), ("terms", terms), ("notes", notes))
               if val is not None}
    if not changes:
        raise InvalidInput("give --valid-until, --terms or --notes")
    st = state(ctx)
    with st.write() as (session, actor):
        quote = quotes.update_quote(session, actor=actor, quote_id=_ref(session, ref), version=version,
                                    changes=changes)
    _show_one(quote, as_json, f"updated {quote.label} (version {quote.version})")
