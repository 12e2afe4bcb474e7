"""Sending a quote: its PDF (rendered and stored as the quote is frozen, or the one stored when it
was sent before) goes to the deal's contact as an attachment, from the seller's own address,
through the outbox (services/mail_send.py), which logs it on the deal's timeline. The outbox row
names the quote (`quote_id`); the attachment is built from the stored PDF when the email goes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.config import QuotesConfig
from crm_tui.errors import InvalidInput
from crm_tui.models import Deal, EmailMessage
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import mail_send, quote_render, quotes
from crm_tui.services.common import Actor
from crm_tui.services.validation import format_money

EMAIL_OFF = ("email is not configured: add an [smtp] table to config.toml (host, port, from, username) and "
             "store its password with `crm secret set smtp`")


@dataclass(frozen=True)
class SentQuote:
    quote: quotes.QuoteRead
    queued: mail_send.Queued
    attachment: str  # the PDF's file name
    size: int


def _default_text(quote: quotes.QuoteRead) -> tuple[str, str]:
    """The subject and body when no template is named (merge fields filled by mail_send.draft)."""
    total = format_money(quote.total_minor, quote.currency, locale=quote.locale or "en_US")
    until = f", valid until {quote.valid_until:%Y-%m-%d}" if quote.valid_until else ""
    subject = f"Quote {quote.label}: {{{{ deal.title }}}}"
    body = (f"Hello,\n\nplease find attached our quote {quote.label} for {{{{ deal.title }}}} "
            f"({total}{until}).\n\nKind regards,\n{{{{ me.name }}}}\n")
    return subject, body


def send_quote(session: Session, *, actor: Actor, quote_id: int, email_enabled: bool,
               letterhead: QuotesConfig | None = None, template_id: int | None = None,
               to: list[str] | None = None, dry_run: bool = False, now: datetime | None = None) -> SentQuote:
    """Queue the quote's email with its PDF, in the caller's transaction; a draft becomes sent
    (frozen, its PDF stored). A sent quote can be sent again (the same PDF). `dry_run` checks all
    of it and writes nothing."""
    now = resolve_now(now)
    quote = quotes.get_quote(session, quote_id=quote_id)
    if quote.status not in ("draft", "sent"):
        raise InvalidInput(f"quote {quote.label} is {quote.status}; revise it to send a new version",
                           see=f"crm quote revise {quote.number}")
    if not quote.latest:
        raise InvalidInput(f"quote {quote.label} was replaced by a newer revision; send that one")
    if not email_enabled and not dry_run:
        raise InvalidInput(EMAIL_OFF)
    pdf = quotes.load_pdf(session, quote_id=quote.id) if quote.status == "sent" else None
    if pdf is None:
        pdf = quote_render.render_pdf(quote, letterhead)
    deal = session.get(Deal, quote.deal_id)
    subject, body = ("", "") if template_id is not None else _default_text(quote)
    draft = mail_send.draft(session, actor=actor, contact_id=deal.contact_id, company_id=deal.company_id,
                            deal_id=deal.id, template_id=template_id, subject=subject, body=body, to=to)
    if not draft.to:
        raise InvalidInput(f"deal {deal.title!r} has no contact with an email address to send the quote to; "
                           "give --to ADDRESS")
    name = quote_render.file_name(quote)
    queued = mail_send.send(session, draft=draft, actor=actor, now=now, dry_run=dry_run)
    if dry_run:
        return SentQuote(quote, queued, name, len(pdf))
    if quote.status == "draft":
        quote = quotes.mark_sent(session, actor=actor, quote_id=quote.id, pdf=pdf, version=quote.version, now=now)
    session.execute(update(EmailOutbox).where(EmailOutbox.id == queued.outbox_id).values(quote_id=quote.id))
    session.execute(update(EmailMessage).where(EmailMessage.id == queued.email_id)
                    .values(attachments=[{"name": name, "size": len(pdf), "type": "application/pdf"}]))
    return SentQuote(quote, queued, name, len(pdf))
