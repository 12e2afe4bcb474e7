"""Email templates: stored (team or own, versioned, audited) and rendered with merge fields in
Jinja2's sandbox, where a field with no value is an error unless the template gives a default."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.errors import CrmError, InvalidInput, NotFound
from crm_tui.models import Company, Contact, Deal, EmailTemplate, User
from crm_tui.services import permissions, validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, parse_id

ENTITY = "template"
MAX_BODY = 50_000


@dataclass(frozen=True)
class TemplateRead:
    id: int
    name: str
    subject: str
    body: str
    owner_id: int | None
    owner: str | None  # the owner's login; None: the team's
    archived: bool
    version: int
    updated_at: datetime

    @property
    def shared(self) -> bool:
        return self.owner_id is None


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


# --- merge fields ------------------------------------------------------------------------------


class Fields(dict):
    """A record's merge fields (only those with a value), named so a missing one says whose it is."""

    def __init__(self, label: str, values: dict[str, Any]) -> None:
        super().__init__({k: val for k, val in values.items() if val not in (None, "", [], {})})
        self.label = label


class Missing(ChainableUndefined, StrictUndefined):
    """StrictUndefined that names the field as the template wrote it (`contact.first_name has no
    value`), and chains, so `{{ deal.title | default("our offer") }}` works with no deal at all."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:  # jinja2's hook for the error's text
        obj, name = self._undefined_obj, self._undefined_name
        if isinstance(obj, Fields):
            return f"{obj.label}.{name} has no value here (add | default(\"…\") to allow that)"
        return f"{name} has no value here (no {name} given; add | default(\"…\") to allow that)"


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's sandbox (no Python internals, no changing values), and no arithmetic that makes
    a template hang or fill the memory ("x" * 10**9, 9 ** 9 ** 9): templates are written by
    teammates and run in everyone's app."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise SecurityError("powers (**) are not allowed in a template")
        sizes = [len(x) for x in (left, right) if isinstance(x, (str, list, tuple))]
        counts = [x for x in (left, right) if isinstance(x, int)]
        if sizes and counts and sizes[0] * max(counts) > MAX_BODY:
            raise SecurityError("that repetition makes the text too long")
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(undefined=Missing, autoescape=False, keep_trailing_newline=True)


def check_syntax(text: str, label: str) -> None:
    """Refuse a subject or body the template engine cannot read, naming the line."""
    try:
        _ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"{label} line {exc.lineno}: {exc.message}") from None


def _custom(values: dict | None) -> Fields:
    return Fields("custom", {str(k): val for k, val in (values or {}).items()})


def _contact_fields(contact: Contact) -> Fields:
    fields = Fields("contact", {"id": contact.id, "first_name": contact.first_name, "last_name": contact.last_name,
                                "name": contact.full_name, "full_name": contact.full_name, "email": contact.email,
                                "phone": contact.phone, "title": contact.title})
    fields["custom"] = _custom(contact.custom)
    fields["custom"].label = "contact.custom"
    return fields


def _company_fields(company: Company) -> Fields:
    fields = Fields("company", {"id": company.id, "name": company.name, "domain": getattr(company, "domain", None)})
    fields["custom"] = _custom(company.custom)
    fields["custom"].label = "company.custom"
    return fields


def _deal_fields(deal: Deal) -> Fields:
    amount = getattr(deal, "amount", None)
    fields = Fields("deal", {"id": deal.id, "title": deal.title, "currency": getattr(deal, "currency", None),
                             "amount": str(Decimal(amount) / 100) if isinstance(amount, int) else amount})
    fields["custom"] = _custom(deal.custom)
    fields["custom"].label = "deal.custom"
    return fields


def _me(session: Session, actor: Actor) -> Fields:
    user = session.get(User, actor.user_id) if actor.user_id is not None else None
    return Fields("me", {"name": user.name if user else actor.login, "email": user.email if user else None,
                         "login": actor.login})


def merge_context(session: Session, *, actor: Actor, contact_id: int | None = None, company_id: int | None = None,
                  deal_id: int | None = None) -> dict[str, Fields]:
    """The merge fields of a contact, its company and a deal, and `me` (the sender). A deal brings
    its contact and company when they are not given; a contact brings its company."""
    deal = get_or_404(session, Deal, deal_id, "deal") if deal_id is not None else None
    contact_id = contact_id if contact_id is not None else (deal.contact_id if deal else None)
    contact = get_or_404(session, Contact, contact_id, "contact") if contact_id is not None else None
    if company_id is None:
        company_id = (contact.company_id if contact else None) or (deal.company_id if deal else None)
    company = get_or_404(session, Company, company_id, "company") if company_id is not None else None
    context: dict[str, Fields] = {"me": _me(session, actor)}
    if contact is not None:
        context["contact"] = _contact_fields(contact)
    if company is not None:
        context["company"] = _company_fields(company)
    if deal is not None:
        context["deal"] = _deal_fields(deal)
    return context


@lru_cache(maxsize=64)
def _compiled(text: str) -> Template:
    """A template's text compiled once (Jinja's compile costs far more than a render): a sequence
    fills one template for hundreds of contacts."""
    return _ENV.from_string(text)


def render_text(text: str, context: dict, label: str) -> str:
    """One template rendered, or InvalidInput saying what is wrong, in one line."""
    try:
        return _compiled(text).render(**context)
    except TemplateSyntaxError as exc:
        raise InvalidInput(f"{label} line {exc.lineno}: {exc.message}") from None
    except UndefinedError as exc:
        raise InvalidInput(f"{label}: {exc.message}") from None
    except SecurityError as exc:
        raise InvalidInput(f"{label}: not allowed in a template: {exc}") from None
    except TemplateError as exc:
        raise InvalidInput(f"{label}: {exc.message or exc}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InvalidInput(f"{label}: {exc}") from None


def render(session: Session, *, subject: str, body: str, actor: Actor, contact_id: int | None = None,
           company_id: int | None = None, deal_id: int | None = None) -> Rendered:
    """A subject and a body with their merge fields filled from the records (see merge_context)."""
    context = merge_context(session, actor=actor, contact_id=contact_id, company_id=company_id, deal_id=deal_id)
    rendered_subject = " ".join(render_text(subject, context, "subject").split())
    return Rendered(subject=rendered_subject[:300], body=render_text(body, context, "body"))


@dataclass(frozen=True)
class MergeRecords:
    """Contacts and their companies read for filling templates (`merge_records`)."""

    contacts: dict[int, Contact]
    companies: dict[int, Company]

    def context(self, contact_id: int, me: Fields) -> dict[str, Fields]:
        """A contact's merge fields, its company's and `me` (as merge_context gives them)."""
        contact = self.contacts.get(contact_id)
        if contact is None:
            raise NotFound(f"no contact with id {contact_id}")
        context: dict[str, Fields] = {"me": me, "contact": _contact_fields(contact)}
        if contact.company_id in self.companies:
            context["company"] = _company_fields(self.companies[contact.company_id])
        return context


def me_fields(session: Session, actor: Actor) -> Fields:
    """The sender's merge fields (`me`)."""
    return _me(session, actor)


def merge_records(session: Session, contact_ids: Iterable[int]) -> MergeRecords:
    """The contacts and their companies, one query each (chunked for the drivers' parameter limits)."""
    ids = sorted(set(contact_ids))
    contacts: dict[int, Contact] = {}
    for start in range(0, len(ids), 500):
        contacts.update((c.id, c) for c in session.scalars(select(Contact).where(Contact.id.in_(ids[start:start + 500]))))
    company_ids = sorted({c.company_id for c in contacts.values() if c.company_id is not None})
    companies: dict[int, Company] = {}
    for start in range(0, len(company_ids), 500):
        companies.update((c.id, c) for c in session.scalars(
            select(Company).where(Company.id.in_(company_ids[start:start + 500]))))
    return MergeRecords(contacts, companies)


def render_many(session: Session, *, subject: str, body: str, actor: Actor, contact_ids: Iterable[int],
                records: MergeRecords | None = None) -> dict[int, Rendered | CrmError]:
    """`render` for many contacts at once (a sequence's batch): the contacts, their companies and
    `me` read in one query each (the contacts and companies: `records` when the caller has read
    them), the texts compiled once. A contact whose merge fields fail gets its InvalidInput (as
    `render` would raise it); a missing contact, NotFound's."""
    ids = sorted(set(contact_ids))
    records = records or merge_records(session, ids)
    me = _me(session, actor)
    out: dict[int, Rendered | CrmError] = {}
    for contact_id in ids:
        try:
            context = records.context(contact_id, me)
        except NotFound as exc:
            out[contact_id] = exc
            continue
        try:
            out[contact_id] = Rendered(subject=" ".join(render_text(subject, context, "subject").split())[:300],
                                       body=render_text(body, context, "body"))
        except InvalidInput as exc:
            out[contact_id] = exc
    return out


def preview(session: Session, *, template_id: int, actor: Actor, contact_id: int | None = None,
            company_id: int | None = None, deal_id: int | None = None) -> Rendered:
    """A template as it reads for these records; a merge field with no value is an error."""
    template = _visible(session, template_id, actor)
    return render(session, subject=template.subject, body=template.body, actor=actor, contact_id=contact_id,
                  company_id=company_id, deal_id=deal_id)


# --- the templates -----------------------------------------------------------------------------


def _read(session: Session, template: EmailTemplate) -> TemplateRead:
    owner = session.scalar(select(User.login).where(User.id == template.owner_id)) if template.owner_id else None
    return TemplateRead(id=template.id, name=template.name, subject=template.subject, body=template.body,
                        owner_id=template.owner_id, owner=owner, archived=template.archived,
                        version=template.version, updated_at=template.updated_at)


def _key(name: str) -> str:
    return v.fold(name)[:100]


def _visible(session: Session, template_id: int, actor: Actor) -> EmailTemplate:
    """A template the actor may use: the team's, their own, or anyone's for an editor of all."""
    template = get_or_404(session, EmailTemplate, template_id, ENTITY)
    if template.owner_id not in (None, actor.user_id) and not _edits_all(session, actor):
        raise NotFound(f"no template with id {template_id}")
    return template


def _edits_all(session: Session, actor: Actor) -> bool:
    return actor.is_system or permissions.capabilities(session, actor).get("template.edit") == permissions.ALL


def _check_name(session: Session, name: str, *, except_id: int | None = None) -> tuple[str, str]:
    name = v.required_text(name, "template name", max_length=100)
    key = _key(name)
    clash = session.scalar(select(EmailTemplate.id).where(EmailTemplate.name_key == key))
    if clash is not None and clash != except_id:
        raise InvalidInput(f"a template named {name!r} exists already (#{clash}); choose another name")
    return name, key


def _check_texts(subject: str | None, body: str | None) -> tuple[str | None, str | None]:
    if subject is not None:
        subject = v.optional_text(subject, "subject", max_length=300) or ""
        check_syntax(subject, "subject")
    if body is not None:
        body = v.clean_text(body, multiline=True).rstrip()
        if len(body) > MAX_BODY:
            raise InvalidInput(f"body is too long ({len(body)} characters; at most {MAX_BODY})")
        check_syntax(body, "body")
    return subject, body


def add_template(session: Session, *, name: str, subject: str, body: str, actor: Actor, shared: bool = False,
                 now: datetime | None = None) -> TemplateRead:
    """A new template: the actor's own, or the team's (`shared`, which takes the right to edit all)."""
    now = resolve_now(now)
    owner_id = None if shared or actor.user_id is None else actor.user_id
    permissions.require(session, actor, "template.edit", owner=owner_id)
    name, key = _check_name(session, name)
    subject, body = _check_texts(subject, body)
    if not subject:
        raise InvalidInput("subject is required")
    template = EmailTemplate(name=name, name_key=key, subject=subject, body=body or "", owner_id=owner_id,
                             created_at=now, updated_at=now)
    session.add(template)
    flush(session, ENTITY, name)
    audit(session, actor=actor, entity=ENTITY, entity_id=template.id, action="create",
          summary=f"{name} ({'team' if owner_id is None else 'own'})", now=now)
    return _read(session, template)


def update_template(session: Session, *, template_id: int, actor: Actor, name: str | None = None,
                    subject: str | None = None, body: str | None = None, shared: bool | None = None,
                    version: int | None = None, now: datetime | None = None) -> TemplateRead:
    """Change a template's name, subject, body, or whose it is (own or the team's)."""
    now = resolve_now(now)
    template = _visible(session, template_id, actor)
    permissions.require(session, actor, "template.edit", owner=template.owner_id)
    check_version(session, template, version, ENTITY, f"template {template.name!r}")
    values: dict[str, Any] = {}
    if name is not None:
        values["name"], values["name_key"] = _check_name(session, name, except_id=template.id)
    subject, body = _check_texts(subject, body)
    if subject is not None:
        if not subject:
            raise InvalidInput("subject is required")
        values["subject"] = subject
    if body is not None:
        values["body"] = body
    if shared is not None:
        owner_id = None if shared else (actor.user_id if template.owner_id is None else template.owner_id)
        permissions.require(session, actor, "template.edit", owner=owner_id)
        values["owner_id"] = owner_id
    changes = apply_changes(template, values)
    changes.pop("name_key", None)
    if changes:
        template.updated_at = now
        flush(session, ENTITY, template.name)
        audit(session, actor=actor, entity=ENTITY, entity_id=template.id, action="update",
              changes={k: (old, new) for k, (old, new) in changes.items()}, now=now)
    return _read(session, template)


def archive_template(session: Session, *, template_id: int, actor: Actor, archived: bool = True,
                     version: int | None = None, now: datetime | None = None) -> TemplateRead:
    """Archive a template (it leaves the pickers; what was sent with it stays) or bring it back."""
    now = resolve_now(now)
    template = _visible(session, template_id, actor)
    permissions.require(session, actor, "template.edit", owner=template.owner_id)
    check_version(session, template, version, ENTITY, f"template {template.name!r}")
    if template.archived != archived:
        template.archived = archived
        template.updated_at = now
        flush(session, ENTITY, template.name)
        audit(session, actor=actor, entity=ENTITY, entity_id=template.id,
              action="archive" if archived else "unarchive", summary=template.name, now=now)
    return _read(session, template)


def list_templates(session: Session, *, actor: Actor, archived: bool = False, limit: int = 500) -> list[TemplateRead]:
    """The templates the actor may use, by name: the team's and their own (an editor of all: every one)."""
    stmt = select(EmailTemplate).where(EmailTemplate.archived == archived)
    if not _edits_all(session, actor):
        stmt = stmt.where(or_(EmailTemplate.owner_id.is_(None), EmailTemplate.owner_id == actor.user_id))
    rows = session.scalars(stmt.order_by(EmailTemplate.name_key, EmailTemplate.id).limit(limit)).all()
    logins = dict(session.execute(select(User.id, User.login).where(
        User.id.in_({t.owner_id for t in rows if t.owner_id is not None}))).all()) if rows else {}
    return [TemplateRead(id=t.id, name=t.name, subject=t.subject, body=t.body, owner_id=t.owner_id,
                         owner=logins.get(t.owner_id), archived=t.archived, version=t.version,
                         updated_at=t.updated_at) for t in rows]


def get_template(session: Session, *, template_id: int, actor: Actor) -> TemplateRead:
    return _read(session, _visible(session, template_id, actor))


def find_template(session: Session, *, ref: str, actor: Actor) -> TemplateRead:
    """A template by id or by name (any case)."""
    text = (ref or "").strip()
    id_ = parse_id(text.lstrip("#"))
    if id_ is not None and session.get(EmailTemplate, id_) is not None:
        return get_template(session, template_id=id_, actor=actor)
    found = session.scalar(select(EmailTemplate.id).where(EmailTemplate.name_key == _key(text)))
    if found is None:
        raise NotFound(f"no template {text!r}", see="crm template list")
    return get_template(session, template_id=found, actor=actor)
