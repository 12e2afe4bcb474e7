"""Stored phones brought to the one rule (validation.phone): `crm contact normalize-phones` rewrites,
set-wise, the numbers kept as typed that read as E.164 in a default country. Nothing else rewrites
phones already stored; new ones are stored by the rule when they are typed or imported."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import Forbidden, InvalidInput
from crm_tui.models import AuditEvent, Contact, ContactEmail, ContactPhone
from crm_tui.services import permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, audit_rows
from crm_tui.services.contacts import derived_fields

BATCH = 500


@dataclass
class PhoneChanges:
    """What normalising did (or, in a dry run, would do): contact id -> (old phones, new phones)."""

    country: str | None
    dry_run: bool
    checked: int = 0  # stored phones not in E.164 form
    contacts: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)


def normalize_phones(session: Session, *, actor: Actor, country: str | None = None, dry_run: bool = False,
                     now: datetime | None = None) -> PhoneChanges:
    """Rewrite every stored phone that is not E.164 yet and parses now (numbers without +code read
    in `country`, by default the actor's phone_country). All or nothing: a contact the actor may not
    edit refuses the run. Each changed contact gets its version bumped and an audit row."""
    country = v.phone_country(country, "--country") or actor.phone_country
    now = resolve_now(now)
    report = PhoneChanges(country, dry_run)
    rows = session.execute(select(ContactPhone.contact_id, ContactPhone.phone)
                           .where(ContactPhone.phone.not_like("+%"))).all()
    report.checked = len(rows)
    touched = sorted({contact_id for contact_id, phone in rows if _rule(phone, country) != phone})
    for batch in _batches(touched):
        _plan(session, batch, country, report)
    if report.contacts:
        _check(session, actor, list(report.contacts))
    if not dry_run and report.contacts:
        _write(session, actor, report, now)
    return report


def _rule(phone: str, country: str | None) -> str:
    try:
        return v.phone(phone, region=country)
    except InvalidInput:  # a value stored before today's checks: left as it is
        return phone


def _plan(session: Session, ids: list[int], country: str | None, report: PhoneChanges) -> None:
    phones: dict[int, list[str]] = {i: [] for i in ids}
    for contact_id, phone in session.execute(select(ContactPhone.contact_id, ContactPhone.phone)
                                             .where(ContactPhone.contact_id.in_(ids))
                                             .order_by(ContactPhone.contact_id, ContactPhone.position)):
        phones[contact_id].append(phone)
    for contact_id, old in phones.items():
        new = list(dict.fromkeys(_rule(p, country) for p in old))  # two spellings of one number: one
        if new != old:
            report.contacts[contact_id] = (old, new)


def _check(session: Session, actor: Actor, ids: list[int]) -> None:
    """The per-record check, once per owner: one contact the actor may not edit refuses the run."""
    owners: dict[int | None, bool] = {}
    for batch in _batches(ids):
        for contact_id, owner in session.execute(select(Contact.id, Contact.owner_id).where(Contact.id.in_(batch))):
            if owner not in owners:
                owners[owner] = permissions.allowed(session, actor, "contact.edit", owner=owner)
            if not owners[owner]:
                try:
                    permissions.require(session, actor, "contact.edit", owner=owner)
                except Forbidden as exc:
                    raise Forbidden(f"contact #{contact_id}: {exc.message}; nothing was changed") from None


def _write(session: Session, actor: Actor, report: PhoneChanges, now: datetime) -> None:
    ids = sorted(report.contacts)
    for batch in _batches(ids):
        session.execute(delete(ContactPhone).where(ContactPhone.contact_id.in_(batch)))
        session.execute(ContactPhone.__table__.insert(), [
            {"contact_id": i, "phone": p, "position": n} for i in batch for n, p in enumerate(report.contacts[i][1])])
        emails: dict[int, list[str]] = {i: [] for i in batch}
        for contact_id, email in session.execute(select(ContactEmail.contact_id, ContactEmail.email)
                                                 .where(ContactEmail.contact_id.in_(batch))
                                                 .order_by(ContactEmail.contact_id, ContactEmail.position)):
            emails[contact_id].append(email)
        params = []
        for contact_id, first, last, title in session.execute(
                select(Contact.id, Contact.first_name, Contact.last_name, Contact.title).where(Contact.id.in_(batch))):
            derived = derived_fields(first, last, title, emails[contact_id], report.contacts[contact_id][1])
            params.append({"_id": contact_id, "phone": derived["phone"], "search_text": derived["search_text"]})
        table = Contact.__table__
        session.execute(update(table).where(table.c.id == bindparam("_id"))
                        .values(version=table.c.version + 1, updated_at=now), params)
    rows = audit_rows(actor=actor, now=now, events=[
        ("contact", i, "update", {"phones": report.contacts[i]}) for i in ids])
    session.execute(AuditEvent.__table__.insert(), rows)
    session.expire_all()


def _batches(items: list, size: int = BATCH) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
