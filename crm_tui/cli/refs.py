"""Turning what people type (an id, an email, a name) into record ids, through the services."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm_tui.errors import NotFound, UnknownCompany
from crm_tui.services import companies, contacts, users
from crm_tui.services.common import Actor


def _blank(ref: str | None) -> bool:
    return ref is not None and ref.strip() == ""


def contact_id(session: Session, ref: str | None) -> int | None:
    """A contact by id or email; None when not given."""
    return contacts.find_contact(session, ref).id if ref is not None else None


def company_id(session: Session, ref: str | None, *, create: bool = False, actor: Actor | None = None
               ) -> int | None:
    """A company by id, name (any spelling of it) or domain; None when not given or given empty (to
    clear it). An unknown name is added only with `create` (--create-company)."""
    if ref is None or _blank(ref):
        return None
    try:
        return companies.find_or_create_company(session, name=ref, create=create, actor=actor).id
    except UnknownCompany as exc:
        name = exc.name.strip()
        raise NotFound(f"no company {name!r}: add --create-company to add it, "
                       f"or add it first with `crm company add {name!r}`") from None


def user_id(session: Session, ref: str | None) -> int | None:
    """A user by id, login, email or name; None when not given or given empty (to clear it)."""
    if ref is None or _blank(ref):
        return None
    return users.resolve_user(session, ref).id


def link_changes(session: Session, *, create_company: bool = False, actor: Actor | None = None,
                 **refs: str | None) -> dict:
    """{company_id: .., owner_id: ..} for the links that were given ("" clears a link). With
    `create_company`, a company name that matches none is added (as `actor`)."""
    resolvers = {"company": company_id, "owner": user_id, "contact": contact_id, "assignee": user_id}
    out = {}
    for name, ref in refs.items():
        if ref is None:
            continue
        if name == "contact" and _blank(ref):
            out["contact_id"] = None
        elif name == "company":
            out["company_id"] = company_id(session, ref, create=create_company, actor=actor)
        else:
            out[f"{name}_id"] = resolvers[name](session, ref)
    return out
