"""Contacts: create, edit, tag, archive, look up, and list or search a page at a time."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import identity_key

from crm_tui.clock import resolve_now
from crm_tui.errors import Duplicate, InvalidInput, NotFound
from crm_tui.models import Company, Contact, ContactEmail, ContactPhone, ContactTag, Lifecycle, Source, Tag, User
from crm_tui.models.schemas import ContactCreate, ContactFilter, ContactRead, ContactRow, ContactUpdate
from crm_tui.services import fields
from crm_tui.services import permissions
from crm_tui.services import search
from crm_tui.services.dates import day_in_range
from crm_tui.services import validation as v
from crm_tui.services.common import (
    Actor,
    apply_changes,
    audit,
    check_version,
    flush,
    get_or_404,
    lock_names,
    parse_shape,
    set_archived,
)
from crm_tui.services.common import parse_id
from crm_tui.services.paging import Page, SortKey, keyset_page

ENTITY = "contact"
SORTS = {
    "name": SortKey(Contact.sort_name, Contact.id),
    "company": SortKey(Contact.company_key, Contact.id, nullable=True),
    "last_contacted": SortKey(Contact.last_contacted_at, Contact.id, descending=True, nullable=True),
    "created": SortKey(Contact.created_at, Contact.id, descending=True),
}
# made once: a fresh aliased() per call costs milliseconds of SQLAlchemy column adaptation
# and defeats the compiled-statement cache, which is most of a page fetch
_LIST_COMPANY, _LIST_OWNER = aliased(Company, name="list_company"), aliased(User, name="list_owner")
_TAG = re.compile(r"^[\w][\w .:/+-]{0,63}$")
MAX_EMAILS = MAX_PHONES = 10


# --- validation ---------------------------------------------------------------------------


def _emails(values: list[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        email = v.email(raw)
        if email not in out:
            out.append(email)
    if len(out) > MAX_EMAILS:
        raise InvalidInput(f"a contact has at most {MAX_EMAILS} emails")
    return out


def _phones(values: list[str], region: str | None) -> list[str]:
    out: list[str] = []
    for raw in values:
        phone = v.phone(raw, region=region)
        if phone not in out:
            out.append(phone)
    if len(out) > MAX_PHONES:
        raise InvalidInput(f"a contact has at most {MAX_PHONES} phones")
    return out


def _tags(values: list[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        tag = " ".join(raw.strip().lower().split())
        if not _TAG.match(tag):
            raise InvalidInput(f"invalid tag {raw!r}: letters, digits and . : / + - only, at most 64")
        if tag not in out:
            out.append(tag)
    return out


_custom = fields.clean_custom  # the import reads custom values the same way


MAX_DESCRIPTION = 5000
MAX_SOCIAL = 10


def _social_urls(values: list[str]) -> list[str]:
    """Profile pages as http(s) URLs ("linkedin.com/in/ada" gains https://), each once, in order."""
    out: list[str] = []
    for value in values:
        url = v.clean_text(str(value)).strip()
        if not url:
            continue
        if "://" not in url:
            url = f"https://{url}"
        scheme, _, rest = url.partition("://")
        host = rest.split("/", 1)[0]
        if scheme.lower() not in ("http", "https") or "." not in host or any(c.isspace() for c in url):
            raise InvalidInput(f"invalid profile URL {value!r}: give a web address, e.g. https://linkedin.com/in/ada")
        if len(url) > 500:
            raise InvalidInput(f"profile URL {value[:40]!r}… is too long (at most 500 characters)")
        if url not in out:
            out.append(url)
    if len(out) > MAX_SOCIAL:
        raise InvalidInput(f"at most {MAX_SOCIAL} profile URLs")
    return out


def _birthday(value: date | str | None, now: datetime) -> date | None:
    """A birthday as YYYY-MM-DD (a date object as given); never after today."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"invalid birthday {value!r}: give it as YYYY-MM-DD, e.g. 1985-12-10") from None
    value = day_in_range(value, "birthday")
    if value > now.date():
        raise InvalidInput(f"birthday {value.isoformat()} is in the future")
    return value


def _clean(session: Session, values: dict, region: str | None, now: datetime, *, creating: bool = False,
           before: dict | None = None) -> dict:
    """Validate and normalise the given fields; touches nothing in the database. Typed custom
    fields (services/fields.py) are parsed and checked; creating, their defaults fill in."""
    out = dict(values)
    for name in ("first_name", "last_name"):
        if name in out:
            out[name] = v.optional_text(out[name], name.replace("_", " "), max_length=100) or ""
    if "title" in out:
        out["title"] = v.optional_text(out["title"], "title")
    if "emails" in out:
        out["emails"] = _emails(out["emails"] or [])
    if "phones" in out:
        out["phones"] = _phones(out["phones"] or [], region)
    if "lifecycle" in out:
        out["lifecycle"] = v.choice(out["lifecycle"], Lifecycle, "lifecycle stage")
    if "source" in out:
        out["source"] = v.choice(out["source"], Source, "source") if out["source"] else None
    if "tags" in out:
        out["tags"] = _tags(out["tags"] or [])
    if "custom" in out or creating:
        out["custom"] = fields.check_values(session, ENTITY, _custom(out.get("custom") or {}), creating=creating,
                                            before=before)
    if "address" in out:
        out["address"] = v.optional_text(out["address"], "address", max_length=500)
    if "description" in out:
        out["description"] = v.optional_text(out["description"], "description", max_length=MAX_DESCRIPTION,
                                             multiline=True)
    if "social_urls" in out:
        out["social_urls"] = _social_urls(out["social_urls"] or [])
    if "birthday" in out:
        out["birthday"] = _birthday(out["birthday"], now)
    if "do_not_email" in out:
        if out["do_not_email"] is None:
            raise InvalidInput("do not email is either on or off")
        out["do_not_email"] = bool(out["do_not_email"])
    if out.get("company_id") is not None:
        get_or_404(session, Company, out["company_id"], "company")
    if out.get("owner_id") is not None:
        get_or_404(session, User, out["owner_id"], "user")
    return out


# --- writes -------------------------------------------------------------------------------


def create_contact(session: Session, *, data: ContactCreate | dict, actor: Actor, now: datetime | None = None,
                   region: str | None = None, allow_duplicate: bool = False) -> ContactRead:
    """Add a contact. Phones are stored E.164 where they parse (validation.phone), a number
    without +code read in `region`, by default the actor's phone_country. One of its emails
    already held by another contact is refused as a Duplicate naming that contact, unless
    `allow_duplicate`."""
    data = parse_shape(ContactCreate, data)
    now = resolve_now(now)
    permissions.require(session, actor, "contact.edit")
    values = _clean(session, data.model_dump(), region or actor.phone_country, now, creating=True)
    if not (values["first_name"] or values["last_name"] or values["emails"]):
        raise InvalidInput("a contact needs a name or an email")
    if not allow_duplicate:
        _refuse_duplicate(session, values["emails"])
    emails, phones, tags = values.pop("emails"), values.pop("phones"), values.pop("tags")
    if values.get("owner_id") is None:
        values["owner_id"] = actor.user_id
    permissions.require_give(session, actor, "contact.assign", old=None, new=values["owner_id"])
    contact = Contact(**values, created_at=now, updated_at=now)
    _derive(session, contact, emails, phones)
    session.add(contact)
    flush(session, ENTITY, "contact")
    _replace_points(session, contact.id, emails, phones)
    _replace_tags(session, contact.id, tags)
    audit(session, actor=actor, entity=ENTITY, entity_id=contact.id, action="create", now=now,
          summary=contact.full_name)
    return get_contact(session, contact_id=contact.id)


def _refuse_duplicate(session: Session, emails: list[str], *, editing: int | None = None) -> None:
    """Emails are stored lowercased (validation.email), so equality is case-insensitive and indexed.
    `editing`: the contact being changed, which may keep its own emails."""
    if not emails:
        return
    lock_names(session, *(f"contact-email:{e}" for e in emails))
    stmt = (select(ContactEmail.email, Contact.id, Contact.full_name, Contact.archived)
            .join(Contact, Contact.id == ContactEmail.contact_id).where(ContactEmail.email.in_(emails)))
    if editing is not None:
        stmt = stmt.where(Contact.id != editing)
    row = session.execute(stmt.order_by(Contact.archived, Contact.id).limit(1)).first()
    if row is None:
        return
    state = " (archived)" if row.archived else ""
    what = "merge the two (crm contact merge), or add --allow-duplicate to keep both" if editing is not None \
        else "add --allow-duplicate to add another"
    found = f"a contact with {row.email} already exists: #{row.id} {row.full_name}{state}"
    raise Duplicate(f"{found} (crm contact show {row.id}); {what}",
                    entity=ENTITY, existing_id=row.id, existing_label=row.full_name, found=found)


def update_contact(session: Session, *, contact_id: int, changes: ContactUpdate | dict, actor: Actor,
                   version: int | None = None, now: datetime | None = None, region: str | None = None,
                   custom_set: dict | None = None, custom_remove: Iterable[str] = (),
                   allow_duplicate: bool = False) -> ContactRead:
    """Apply the fields that are set. With `version`, refuse if the contact changed since it was read.
    `custom_set` / `custom_remove` change some custom fields and keep the others: they apply to the
    row as stored now, read under its lock, so concurrent edits of different fields all stay.
    An email added that another contact has is refused as a Duplicate, as on create, unless
    `allow_duplicate`."""
    changes = parse_shape(ContactUpdate, changes)
    now = resolve_now(now)
    contact = lock_contact(session, contact_id)
    permissions.require(session, actor, "contact.edit")
    check_version(session, contact, version, ENTITY, f"contact {contact.full_name!r}")
    values = changes.model_dump(exclude_unset=True)
    if custom_set or custom_remove:
        if "custom" in values:
            raise InvalidInput("give either every custom field or the ones that change, not both")
        drop = {str(k).strip() for k in custom_remove}
        values["custom"] = {**{k: v for k, v in (contact.custom or {}).items() if k not in drop}, **(custom_set or {})}
    values = _clean(session, values, region or actor.phone_country, now, before=dict(contact.custom or {}))
    if "owner_id" in values:
        permissions.require_give(session, actor, "contact.assign", old=contact.owner_id, new=values["owner_id"])
    current = get_contact(session, contact_id=contact.id)
    emails = values.pop("emails", current.emails)
    phones = values.pop("phones", current.phones)
    tags = values.pop("tags", current.tags)
    if not allow_duplicate:
        _refuse_duplicate(session, [e for e in emails if e not in current.emails], editing=contact.id)
    changed = apply_changes(contact, values)
    for name, old, new in (("emails", current.emails, emails), ("phones", current.phones, phones),
                           ("tags", current.tags, tags)):
        if old != new:
            changed[name] = (old, new)
    if not (contact.first_name or contact.last_name or emails):
        raise InvalidInput("a contact needs a name or an email")
    if not changed:
        return current
    contact.updated_at = now
    _derive(session, contact, emails, phones)
    flush(session, ENTITY, f"contact {contact.full_name!r}")
    if "emails" in changed or "phones" in changed:
        _replace_points(session, contact.id, emails, phones)
    if "tags" in changed:
        _replace_tags(session, contact.id, tags)
    audit(session, actor=actor, entity=ENTITY, entity_id=contact.id, action="update", now=now, changes=changed)
    return get_contact(session, contact_id=contact.id)


def set_contact_archived(session: Session, *, contact_id: int, archived: bool, actor: Actor,
                         version: int | None = None, now: datetime | None = None) -> ContactRead:
    permissions.require(session, actor, "contact.edit")
    set_archived(session, Contact, id_=contact_id, archived=archived, actor=actor, entity=ENTITY,
                 label=lambda c: f"contact {c.full_name!r}", version=version, now=resolve_now(now))
    return get_contact(session, contact_id=contact_id)


def change_tags(session: Session, *, contact_id: int, add: list[str] = (), remove: list[str] = (),
                actor: Actor, now: datetime | None = None) -> ContactRead:
    """Add and remove tags without touching other fields (no version needed: tags merge, under the
    contact's lock, into the tags stored now)."""
    permissions.require(session, actor, "contact.edit")
    lock_contact(session, contact_id)
    current = get_contact(session, contact_id=contact_id)
    drop = set(_tags(list(remove)))
    tags = [t for t in current.tags if t not in drop]
    tags += [t for t in _tags(list(add)) if t not in tags]
    return update_contact(session, contact_id=contact_id, changes={"tags": tags}, actor=actor, now=now)


def lock_contact(session: Session, contact_id: int) -> Contact:
    """The contact, locked for the rest of the unit of work (FOR UPDATE on PostgreSQL; on SQLite
    BEGIN IMMEDIATE already holds the file) and read again under the lock, so that a change merged
    into it starts from what is stored now, not from an earlier read. A copy this unit already
    changed is kept as it is: whoever changed it locked it first (a merge does)."""
    known = session.identity_map.get(identity_key(Contact, contact_id))
    fresh = known is None or not session.is_modified(known)
    contact = session.get(Contact, contact_id, with_for_update=True, populate_existing=fresh)
    if contact is None:
        raise NotFound(f"no contact with id {contact_id}")
    return contact


def derived_fields(first_name: str, last_name: str, title: str | None, emails: list[str],
                   phones: list[str]) -> dict[str, str | None]:
    """The stored copies that lists, sorting and search read, but company_key (shared with the demo loader)."""
    full_name = " ".join(p for p in (first_name, last_name) if p) or (emails[0] if emails else "")
    digits = [re.sub(r"\D", "", p) for p in phones]
    return {
        "full_name": full_name,
        "sort_name": v.fold(full_name),
        "email": emails[0] if emails else None,
        "phone": phones[0] if phones else None,
        "search_text": v.search_text(full_name, title, *emails, *phones, *digits),
    }


def _derive(session: Session, contact: Contact, emails: list[str], phones: list[str]) -> None:
    """The stored copies that lists, sorting and search read."""
    for name, value in derived_fields(contact.first_name, contact.last_name, contact.title, emails, phones).items():
        setattr(contact, name, value)
    # no autoflush: flushing the half-derived contact here would bump its version twice per edit
    with session.no_autoflush:
        contact.company_key = (
            session.scalar(select(Company.name_key).where(Company.id == contact.company_id))
            if contact.company_id else None
        )


def _replace_points(session: Session, contact_id: int, emails: list[str], phones: list[str]) -> None:
    session.execute(delete(ContactEmail).where(ContactEmail.contact_id == contact_id))
    session.execute(delete(ContactPhone).where(ContactPhone.contact_id == contact_id))
    if emails:
        session.execute(insert(ContactEmail), [
            {"contact_id": contact_id, "email": e, "position": i} for i, e in enumerate(emails)])
    if phones:
        session.execute(insert(ContactPhone), [
            {"contact_id": contact_id, "phone": p, "position": i} for i, p in enumerate(phones)])


def _replace_tags(session: Session, contact_id: int, tags: list[str]) -> None:
    session.execute(delete(ContactTag).where(ContactTag.contact_id == contact_id))
    if not tags:
        return
    tag_ids = [tag_id(session, name) for name in tags]
    session.execute(insert(ContactTag), [{"contact_id": contact_id, "tag_id": t} for t in tag_ids])


def tag_id(session: Session, name: str) -> int:
    existing = session.scalar(select(Tag.id).where(Tag.name == name))
    if existing is not None:
        return existing
    tag = Tag(name=name)
    session.add(tag)
    session.flush()
    return tag.id


# --- reads --------------------------------------------------------------------------------


def get_contact(session: Session, *, contact_id: int) -> ContactRead:
    contact = get_or_404(session, Contact, contact_id, "contact")
    emails = list(session.scalars(select(ContactEmail.email).where(ContactEmail.contact_id == contact_id)
                                  .order_by(ContactEmail.position)))
    phones = list(session.scalars(select(ContactPhone.phone).where(ContactPhone.contact_id == contact_id)
                                  .order_by(ContactPhone.position)))
    tags = list(session.scalars(select(Tag.name).join(ContactTag, ContactTag.tag_id == Tag.id)
                                .where(ContactTag.contact_id == contact_id).order_by(Tag.name)))
    company = session.get(Company, contact.company_id) if contact.company_id else None
    owner = session.get(User, contact.owner_id) if contact.owner_id else None
    return ContactRead.model_validate(contact, from_attributes=True, update={
        "emails": emails, "phones": phones, "tags": tags,
        "company_name": company.name if company else None,
        "owner_login": owner.login if owner else None,
        "custom": dict(contact.custom or {}), "social_urls": list(contact.social_urls or []),
    })


def find_contact(session: Session, ref: str | int) -> ContactRead:
    """A contact by id or by any of its emails. An email several contacts share is an error that
    lists them (active ones; archived ones only when no active one has it), never a silent pick."""
    text = str(ref).strip()
    if (contact_id := parse_id(text)) is not None:
        return get_contact(session, contact_id=contact_id)
    rows = session.execute(
        select(Contact.id, Contact.full_name, Contact.archived)
        .join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(ContactEmail.email == text.lower()).order_by(Contact.archived, Contact.id).limit(21)).all()
    if not rows:
        raise NotFound(f"no contact {text!r}")
    active = [r for r in rows if not r.archived] or rows
    if len(active) > 1:
        shown = ", ".join(f"{r.full_name} (#{r.id})" for r in active[:5])
        more = f" and {len(active) - 5} more" if len(active) > 5 else ""
        raise InvalidInput(f"{text!r} matches several contacts: {shown}{more}; give the id")
    return get_contact(session, contact_id=active[0].id)


def filter_conditions(session: Session, query: str | None, filters: ContactFilter, now: datetime) -> list:
    """The conditions of the list's search and filters (a bulk edit's "every matching contact")."""
    return _conditions(session, query, filters, now)


def _conditions(session: Session, query: str | None, filters: ContactFilter, now: datetime) -> list:
    f = filters
    conditions = [Contact.archived.is_(f.archived)]
    if f.lifecycle:
        conditions.append(Contact.lifecycle.in_([v.choice(x, Lifecycle, "lifecycle stage") for x in f.lifecycle]))
    if f.owner_id is not None:
        conditions.append(Contact.owner_id == f.owner_id)
    if f.unowned:
        conditions.append(Contact.owner_id.is_(None))
    if f.source:
        conditions.append(Contact.source == v.choice(f.source, Source, "source"))
    if f.company_id is not None:
        conditions.append(Contact.company_id == f.company_id)
    if f.tag:
        tagged = select(ContactTag.contact_id).join(Tag, Tag.id == ContactTag.tag_id).where(Tag.name == f.tag.lower())
        conditions.append(Contact.id.in_(tagged))
    if f.never_contacted:
        conditions.append(Contact.last_contacted_at.is_(None))
    if f.do_not_email:
        conditions.append(Contact.do_not_email.is_(True))
    if f.not_contacted_days is not None:
        cutoff = now - timedelta(days=f.not_contacted_days)
        conditions.append((Contact.last_contacted_at.is_(None)) | (Contact.last_contacted_at < cutoff))
    if f.created_within_days is not None:
        conditions.append(Contact.created_at >= now - timedelta(days=f.created_within_days))
    if f.custom:
        conditions += fields.conditions(session, ENTITY, f.custom)
    if (cond := search.contact_condition(session.bind.dialect.name, query, session=session)) is not None:
        conditions.append(cond)
    return conditions


def list_contacts(session: Session, *, query: str | None = None, filters: ContactFilter | dict | None = None,
                  sort: str = "name", after: str | None = None, before: str | None = None, limit: int = 50,
                  with_total: bool = False, now: datetime | None = None) -> Page[ContactRow]:
    """One page of contacts matching the search and filters, in `sort` order, by keyset."""
    filters = parse_shape(ContactFilter, filters or {})
    if sort not in SORTS and not sort.startswith("custom."):
        raise InvalidInput(f"invalid sort {sort!r}: choose one of {', '.join(SORTS)} or custom.FIELD")
    now = resolve_now(now)
    # by name, a short search's two halves each come in name order from an index (see
    # search.contact_branches); other orders read and sort the matches either way
    branches = search.contact_branches(query) if sort == "name" else None
    conditions = _conditions(session, None if branches else query, filters, now)
    key = SORTS[sort] if sort in SORTS else fields.sort_key(session, ENTITY, sort)
    company, owner = _LIST_COMPANY, _LIST_OWNER
    stmt = (
        select(Contact.id, Contact.full_name, company.name.label("company_name"), Contact.email, Contact.phone,
               Contact.lifecycle, owner.login.label("owner_login"), Contact.last_contacted_at, Contact.created_at,
               key.column.label("sort_value"))
        .outerjoin(company, company.id == Contact.company_id)
        .outerjoin(owner, owner.id == Contact.owner_id)
        .where(*conditions)
    )
    row_key = lambda r: (r.sort_value, r.id)  # noqa: E731
    if branches:
        # the page's ids by a walk along each branch's index, then those rows alone
        ids_stmt = select(Contact.id, key.column.label("sort_value")).where(*conditions)
        keys, next_, prev_ = keyset_page(session, ids_stmt, key, row_key=row_key, after=after, before=before,
                                         limit=limit, any_of=branches)
        found = {r.id: r for r in session.execute(stmt.where(Contact.id.in_([k.id for k in keys])))} if keys else {}
        rows = [found[k.id] for k in keys if k.id in found]
    else:
        rows, next_, prev_ = keyset_page(session, stmt, key, row_key=row_key, after=after, before=before,
                                         limit=limit)
    items = [ContactRow(r.id, r.full_name, r.company_name, r.email, r.phone, r.lifecycle, r.owner_login,
                        r.last_contacted_at, r.created_at) for r in rows]
    total = count_contacts(session, query=query, filters=filters, now=now) if with_total else None
    return Page(items, next_, prev_, total)


def count_contacts(session: Session, *, query: str | None = None, filters: ContactFilter | dict | None = None,
                   now: datetime | None = None) -> int:
    filters = parse_shape(ContactFilter, filters or {})
    conditions = _conditions(session, query, filters, resolve_now(now))
    return session.scalar(select(func.count()).select_from(Contact).where(*conditions))


def do_not_email_among(session: Session, *, emails: Iterable[str], limit: int = 5) -> list[tuple[str, str]]:
    """(name, email) of the contacts marked "do not email" that hold any of `emails`, by name: what
    the composer warns about. A person may still write to them; only sequence and bulk mail are barred."""
    wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})[:50]
    if not wanted:
        return []
    rows = session.execute(
        select(Contact.full_name, ContactEmail.email).join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(ContactEmail.email.in_(wanted), Contact.do_not_email.is_(True), Contact.archived.is_(False))
        .order_by(Contact.sort_name, Contact.id, ContactEmail.email).limit(limit))
    return [(r.full_name, r.email) for r in rows]
