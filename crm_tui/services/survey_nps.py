"""NPS runs (issue 23): a survey from 0 to 10 and a comment, to each contact of a saved list or a
filter, through the email outbox, at most once per contact and run (uq_surveys_run_contact).

A run goes in batches, each its own transaction (the CLI's loop): the batch's contacts are one
keyset page of the segment, their surveys one INSERT ... SELECT that skips a contact already in the
run, and their emails each stored and queued by services/mail_send. A run stopped half-way is
finished by running it again: who has theirs is skipped. A periodic run names its period
(`period_key("quarter", now)`: "nps-2026-q4"), so a cron job that runs daily sends once a quarter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, delete, exists, func, literal, select, update
from sqlalchemy.orm import Session

from crm_tui.clock import resolve_now
from crm_tui.config import Settings
from crm_tui.errors import InvalidInput
from crm_tui.models import AuditEvent, Contact
from crm_tui.models.case import NPS, Survey
from crm_tui.models.enums import Lifecycle
from crm_tui.models.schemas import ContactFilter
from crm_tui.services import permissions, sequences, surveys, validation as v
from crm_tui.services.common import Actor, audit_rows, parse_shape

BATCH = 200  # contacts per batch (and per transaction, in the CLI)
PERIODS = ("month", "quarter", "year")
MAX_RUN_KEY = 64

NPS_SUBJECT = "How likely are you to recommend us?"
NPS_BODY = """Hello {{ contact.first_name | default("there") }},

How likely is it that you would recommend us to a friend or colleague?
Choose a number, from 0 (not at all likely) to 10 (extremely likely):

{{ survey.links }}

or simply reply with a number from 0 to 10, and a word on why if you like.

Thank you,
{{ me.name }}

Not interested in these emails? Unsubscribe: {{ survey.unsubscribe }}
"""


def period_key(every: str, now: datetime) -> str:
    """The run key of the period `now` falls in: nps-2026-12, nps-2026-q4, nps-2026."""
    if every not in PERIODS:
        raise InvalidInput(f"--every is one of {', '.join(PERIODS)}, not {every!r}")
    if every == "month":
        return f"nps-{now:%Y-%m}"
    if every == "quarter":
        return f"nps-{now.year}-q{(now.month - 1) // 3 + 1}"
    return f"nps-{now.year}"


def check_run_key(run_key: str) -> str:
    text = (run_key or "").strip()
    if not text or len(text) > MAX_RUN_KEY or not all(c.isalnum() or c in "-_." for c in text) or not text.isascii():
        raise InvalidInput(f"a run key is 1 to {MAX_RUN_KEY} letters, digits, '-', '_' or '.' "
                           f"(e.g. nps-2026-q4), not {run_key!r}")
    return text


def segment(session: Session, *, actor: Actor, view: str | None = None, lifecycle: list[str] | None = None,
            company_id: int | None = None, tag: str | None = None, now: datetime | None = None) -> list:
    """The conditions on Contact of a saved contact list (or a built-in one, by name) or a filter;
    at least one must be given (no run goes to everyone by accident)."""
    from crm_tui.services import contacts, views

    now = resolve_now(now)
    if view is None and not lifecycle and company_id is None and not tag:
        raise InvalidInput("say whom to survey: --view NAME, --lifecycle, --company or --tag")
    conditions: list[Any] = []
    if view is not None:
        text = view.strip().lower()
        found = next((b for b in views.BUILTIN_CONTACT_VIEWS if b.name.lower() == text), None)
        found = found or views.find_view(session, name=view, actor=actor, entity="contact")
        filters = parse_shape(ContactFilter, views.resolve_filters(found.filters, actor))
        conditions += contacts.filter_conditions(session, found.query or None, filters, now)
    more = ContactFilter(lifecycle=[v.choice(x, Lifecycle, "lifecycle stage") for x in lifecycle or []] or None,
                         company_id=company_id, tag=tag or None)
    conditions += contacts.filter_conditions(session, None, more, now)
    return conditions


@dataclass(frozen=True)
class Plan:
    """What a run would do now (a dry run): who gets one, and who is left out and why."""

    run_key: str
    to_send: int
    already: int  # in the run already
    do_not_email: int
    no_email: int


def plan(session: Session, *, actor: Actor, run_key: str, conditions: list) -> Plan:
    """Counted in one aggregate query, writing nothing."""
    permissions.require(session, actor, "survey.send")
    run_key = check_run_key(run_key)
    has_email = and_(Contact.email.is_not(None), Contact.email != "")
    taken = exists().where(Survey.run_key == run_key, Survey.contact_id == Contact.id)
    ok = and_(Contact.do_not_email.is_(False), has_email)
    row = session.execute(select(
        func.sum(case((and_(ok, ~taken), 1), else_=0)),
        func.sum(case((and_(ok, taken), 1), else_=0)),
        func.sum(case((Contact.do_not_email.is_(True), 1), else_=0)),
        func.sum(case((and_(Contact.do_not_email.is_(False), ~has_email), 1), else_=0)),
    ).where(*conditions, Contact.archived.is_(False))).one()
    to_send, already, dne, no_email = (int(x or 0) for x in row)
    return Plan(run_key, to_send, already, dne, no_email)


@dataclass
class Batch:
    """What one batch did, and where the next one starts (`after`: a contact id)."""

    sent: int = 0
    after: int = 0
    done: bool = False
    errors: list[str] = field(default_factory=list)


def send_batch(session: Session, *, actor: Actor, run_key: str, conditions: list, settings: Settings | None,
               now: datetime | None = None, after: int = 0, limit: int = BATCH,
               template: tuple[str, str] | None = None) -> Batch:
    """One batch of a run, in the caller's transaction: the next `limit` contacts of the segment
    (by id, after `after`) who may be emailed and are not in the run yet get a survey, their
    tokens and their emails (queued in the outbox, sent after commit)."""
    now = resolve_now(now)
    permissions.require(session, actor, "survey.send")
    run_key = check_run_key(run_key)
    key, why = surveys.configured_key(settings)  # the keyring read once a batch
    if key is None:
        raise InvalidInput(f"NPS surveys cannot go out: {why}")
    batch = Batch(after=after)
    eligible = [*conditions, Contact.archived.is_(False), Contact.do_not_email.is_(False),
                Contact.email.is_not(None), Contact.email != "", Contact.id > after,
                ~exists().where(Survey.run_key == run_key, Survey.contact_id == Contact.id)]
    page = list(session.scalars(select(Contact.id).where(*eligible).order_by(Contact.id).limit(limit)))
    batch.done = len(page) < limit
    if not page:
        return batch
    batch.after = page[-1]
    table = Survey.__table__
    placeholder = surveys.placeholder() + ":"
    rows = select(literal(NPS), literal(run_key), Contact.id,
                  literal(placeholder) + cast(Contact.id, String), literal(now, table.c.sent_at.type)) \
        .where(Contact.id.in_(page), Contact.do_not_email.is_(False))
    made = session.execute(sequences.dialect_insert(session, table)
                           .from_select(["kind", "run_key", "contact_id", "token_hash", "sent_at"], rows)
                           .on_conflict_do_nothing().returning(table.c.id, table.c.contact_id)).all()
    if not made:
        return batch
    tokens = {survey_id: surveys.make_token(key, survey_id) for survey_id, _ in made}
    for survey_id, token in tokens.items():
        session.execute(update(table).where(table.c.id == survey_id).values(token_hash=surveys.token_hash(token)))
    _emails(session, made, tokens, run_key=run_key, actor=actor, settings=settings, now=now, template=template, batch=batch)
    return batch


def _emails(session: Session, made: list, tokens: dict[int, str], *, run_key: str, actor: Actor, settings: Settings | None,
            now: datetime, template: tuple[str, str] | None, batch: Batch) -> None:
    table = Survey.__table__
    base = settings.support.survey_url
    subject, body = template or (NPS_SUBJECT, NPS_BODY)
    from crm_tui.services import email_templates

    # the batch's contacts and their companies read once, for the addresses and the merge fields
    records = email_templates.merge_records(session, [c for _, c in made])
    people, me = records.contacts, email_templates.me_fields(session, actor)
    failed, sent = [], []
    for survey_id, contact_id in made:
        token, person = tokens[survey_id], people[contact_id]
        urls = surveys.links(base, token, NPS)
        fields = {"token": token, "links": "\n".join(f"  {n}: {url}" for n, url in urls.items()),
                  "unsubscribe": f"{base}/survey/{token}/unsubscribe",
                  **{f"url_{n}": url for n, url in urls.items()}}
        try:
            with session.begin_nested():
                filled_subject, filled_body = surveys.fill(session, actor=actor, contact_id=contact_id,
                                                           subject=subject, body=body, survey=fields,
                                                           records=records, me=me)
                if fields["unsubscribe"] not in filled_body:
                    filled_body = f"{filled_body.rstrip()}\n\nUnsubscribe: {fields['unsubscribe']}\n"
                queued = surveys.send_survey_email(session, to=person.email, subject=filled_subject, body=filled_body,
                                                   contact_id=contact_id, company_id=person.company_id,
                                                   settings=settings, now=now, rule=f"NPS {run_key}")
        except InvalidInput as exc:  # a merge field with no value, a bad address: this one is left out
            failed.append(survey_id)
            batch.errors.append(f"contact #{contact_id}: {exc.message}")
            continue
        session.execute(update(table).where(table.c.id == survey_id).values(email_id=queued.email_id))
        sent.append((survey_id, contact_id, person.email))
    if failed:
        session.execute(delete(table).where(table.c.id.in_(failed)))
    if sent:
        session.execute(AuditEvent.__table__.insert(), audit_rows(
            actor=actor, now=now, events=[(surveys.ENTITY, i, "send", f"NPS {run_key} to {email}")
                                          for i, _, email in sent]))
    batch.sent += len(sent)
