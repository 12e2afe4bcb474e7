"""A contact from an email address and the name its mail gave: Triage's "make it a contact" and
email to case's lead for an unknown sender (both import this; neither imports the other)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_tui.models import Company
from crm_tui.services import contacts
from crm_tui.shapes import Actor


def split_name(name: str) -> tuple[str, str]:
    """"Ada Lovelace" -> ("Ada", "Lovelace"); "Lovelace, Ada" -> ("Ada", "Lovelace")."""
    name = " ".join((name or "").replace('"', "").split())
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip()[:100], last.strip()[:100]
    first, _, last = name.partition(" ")
    return first[:100], last[:100]


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()[:255]


def create_contact(session: Session, *, address: str, name: str, actor: Actor, lifecycle: str = "lead",
                   now: datetime) -> int:
    """A contact (a lead, by default) with the address and the name split, at the company whose
    domain the address is at if there is one, made through the contacts service (checked and
    audited; Duplicate when a contact holds the address). Returns its id."""
    first, last = split_name(name)
    company = session.scalar(select(Company.id).where(Company.domain == domain_of(address),
                                                      Company.archived.is_(False)).order_by(Company.id).limit(1))
    return contacts.create_contact(session, data={"first_name": first, "last_name": last, "emails": [address],
                                                  "lifecycle": lifecycle, "company_id": company},
                                   actor=actor, now=now).id
