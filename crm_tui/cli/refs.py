"""Turning what people type (an id, an email, a name) into record ids, through the services."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm_tui.services import companies, contacts, users


def _blank(ref: str | None) -> bool:
    return ref is not None and ref.strip() == ""


def contact_id(session: Session, ref: str | None) -> int | None:
    """A contact by id or email; None when not given."""
    return contacts.find_contact(session, ref).id if ref is not None else None


def company_id(session: Session, ref: str | None) -> int | None:
    """A company by id, name or domain; None when not given or given empty (to clear it)."""
    if ref is None or _blank(ref):
        return None
    return companies.resolve_company(session, ref).id


def user_id(session: Session, ref: str | None) -> int | None:
    """A user by id, login, email or name; None when not given or given empty (to clear it)."""
    if ref is None or _blank(ref):
        return None
    return users.resolve_user(session, ref).id


def link_changes(session: Session, **refs: str | None) -> dict:
    """{company_id: .., owner_id: ..} for the links that were given ("" clears a link)."""
    resolvers = {"company": company_id, "owner": user_id, "contact": contact_id, "assignee": user_id}
    out = {}
    for name, ref in refs.items():
        if ref is None:
            continue
        if name == "contact" and _blank(ref):
            out["contact_id"] = None
        else:
            out[f"{name}_id"] = resolvers[name](session, ref)
    return out
