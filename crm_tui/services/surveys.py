"""Customer satisfaction (issue 23): the CSAT survey a resolved case sends, its signed single-use
links, the answers (a link, a reply by email, or typed in), and the surveys of a case or a run.

A survey's token is `<survey id>.<nonce>.<mac>`: the MAC is HMAC-SHA256 of id and nonce under the
signing key (the environment variable `[support] secret_env`, else the keyring's `survey-signing`
entry, `crm secret set survey`), and only the token's sha256 is stored (`token_hash`). Answering
checks the MAC in constant time, finds the survey by that hash and spends it (`responded_at`) in
one UPDATE, so a link works once. NPS runs are sent by services/survey_nps.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets as random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_tui import secrets
from crm_tui.clock import resolve_now
from crm_tui.config import Settings, SupportConfig
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Activity, Contact, EmailMessage, EmailTemplate
from crm_tui.models.case import CSAT, INTERNAL, NPS, Case, CaseEntry, Survey
from crm_tui.models.enums import ActivityKind
from crm_tui.services import mail_send, permissions, sequences, validation as v
from crm_tui.services.common import Actor, audit, parse_id, system_actor
from crm_tui.services.paging import Page, SortKey, keyset_page

if TYPE_CHECKING:  # Jinja2 loads with the first email filled, not with this module
    from crm_tui.services import email_templates
    from crm_tui.services.email_templates import MergeRecords

log = logging.getLogger(__name__)

ENTITY = "survey"
SECRET_NAME = "survey-signing"  # the keyring entry of the signing key
MIN_KEY = 16  # characters of a signing key
VALID_DAYS = 60  # a link older than this is expired
COMMENT_HOURS = 24  # after answering by a link, a comment may follow this long
MAX_COMMENT = 2000
MAX_TOKEN = 120
RANGES = {CSAT: (1, 5), NPS: (0, 10)}
VIAS = ("link", "reply", "manual")
_TOKEN = re.compile(r"(\d{1,18})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})")


class SurveyLinkError(InvalidInput):
    """A survey link that cannot be used: `reason` is "forged", "used", "expired" or "off" (no
    key here), so the public page can say which."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- the signing key and the tokens -------------------------------------------------------------


def _support(settings: Settings | None) -> SupportConfig:
    return settings.support if settings is not None else SupportConfig()


def signing_key(settings: Settings | None) -> bytes | None:
    """The key that signs survey links: the variable `[support] secret_env`, else the keyring; None
    when neither has one. A key shorter than MIN_KEY characters is refused."""
    value = secrets.get_secret(SECRET_NAME, env=_support(settings).secret_env)
    if value is None:
        return None
    if len(value) < MIN_KEY:
        raise InvalidInput(f"the survey signing key is too short: give at least {MIN_KEY} characters "
                           f"(e.g. `openssl rand -hex 32`)")
    return value.encode("utf-8")


def not_configured(settings: Settings | None) -> str | None:
    """Why surveys cannot go out here (no survey_url, or no signing key), or None when they can."""
    return configured_key(settings)[1]


def configured_key(settings: Settings | None) -> tuple[bytes | None, str | None]:
    """The signing key to send surveys with and None, or None and why they cannot go out here (no
    survey_url, or no signing key): a send reads the key (the keyring) once."""
    support = _support(settings)
    if not support.survey_url:
        return None, "no survey_url under [support] in config.toml (the address `crm serve` answers surveys on)"
    key = signing_key(settings)
    if key is None:
        return None, f"no survey signing key: set {support.secret_env}, or run `crm secret set survey`"
    return key, None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _mac(key: bytes, survey_id: int, nonce: str) -> str:
    return _b64(hmac.new(key, f"{survey_id}.{nonce}".encode("ascii"), hashlib.sha256).digest())


def make_token(key: bytes, survey_id: int) -> str:
    """A new token for a survey: its id, 12 random bytes and the MAC of both."""
    nonce = _b64(random.token_bytes(12))
    return f"{survey_id}.{nonce}.{_mac(key, survey_id, nonce)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def placeholder() -> str:
    """A token_hash to insert a survey with until its id is known and its token made: unique, and
    never a sha256 (it starts with "~"), so no token finds it."""
    return f"~{_b64(random.token_bytes(12))}"


def _verified(session: Session, token: str, key: bytes | None) -> Survey:
    """The survey a genuine token names; SurveyLinkError for anything else (never says which part
    of a forged token was wrong)."""
    if key is None:
        raise SurveyLinkError("surveys are not set up here: no signing key", reason="off")
    forged = SurveyLinkError("this survey link is not valid: it was changed, or never sent", reason="forged")
    text = (token or "").strip()
    found = _TOKEN.fullmatch(text) if len(text) <= MAX_TOKEN else None
    if found is None:
        raise forged
    survey_id, nonce, mac = int(found.group(1)), found.group(2), found.group(3)
    if not hmac.compare_digest(mac.encode("ascii"), _mac(key, survey_id, nonce).encode("ascii")):
        raise forged
    survey = session.scalar(select(Survey).where(Survey.token_hash == token_hash(text)))
    if survey is None or survey.id != survey_id:  # signed, but not (or no longer) the survey's token
        raise forged
    return survey


def check_open(survey: Survey, now: datetime) -> None:
    """Refuse a survey answered already, or past VALID_DAYS (SurveyLinkError)."""
    if survey.responded_at is not None:
        raise SurveyLinkError(f"this survey was answered already ({survey.score}, on "
                              f"{survey.responded_at:%Y-%m-%d}); each link works once", reason="used")
    if now - survey.sent_at > timedelta(days=VALID_DAYS):
        raise SurveyLinkError(f"this survey link has expired (sent {survey.sent_at:%Y-%m-%d}; links work for "
                              f"{VALID_DAYS} days)", reason="expired")


def check_score(kind: str, score: object) -> int:
    """The score as a number in the kind's range (CSAT 1-5, NPS 0-10), or InvalidInput."""
    low, high = RANGES[kind]
    if isinstance(score, str) and score.strip().isascii() and score.strip().isdigit():
        score = int(score.strip())
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise InvalidInput(f"a {kind.upper()} score is a whole number from {low} to {high}, not {score!r}")
    return score


def _comment(comment: str | None) -> str | None:
    text = v.optional_text(comment, "comment", max_length=10 * MAX_COMMENT, multiline=True)
    return text[:MAX_COMMENT] if text else None


# --- answering ----------------------------------------------------------------------------------


def label(survey: Survey) -> str:
    """ "CSAT 4/5 for case #42", "NPS 9/10 (nps-2026-q4)": what the timeline and the case show."""
    score = "no answer yet" if survey.score is None else f"{survey.score}/{RANGES[survey.kind][1]}"
    if survey.kind == CSAT:
        return f"CSAT {score} for case #{survey.case_id}"
    return f"NPS {score}" + (f" ({survey.run_key})" if survey.run_key else "")


def answer(session: Session, token: str, score: object, *, comment: str | None = None, now: datetime | None,
           settings: Settings | None = None, key: bytes | None = None, via: str = "link",
           actor: Actor | None = None) -> Survey:
    """Record the answer a survey's token carries: the MAC checked in constant time, the survey
    found by the token's hash, refused when used or expired, the score checked against its kind's
    range. The survey is spent in one UPDATE (of two at once, one wins), the answer goes on the
    contact's timeline and the case's thread, and is audited. `actor` (typing an answer in for a
    customer) needs survey.send; without one, the customer answers (system:survey)."""
    now = resolve_now(now)
    if actor is not None:
        permissions.require(session, actor, "survey.send")
    survey = _verified(session, token, key if key is not None else signing_key(settings))
    check_open(survey, now)
    return _record(session, survey, check_score(survey.kind, score), _comment(comment), via=via, now=now,
                   actor=actor)


def _record(session: Session, survey: Survey, score: int, comment: str | None, *, via: str, now: datetime,
            actor: Actor | None) -> Survey:
    if via not in VIAS:
        raise InvalidInput(f"an answer comes by {', '.join(VIAS)}, not {via!r}")
    spent = session.execute(update(Survey).where(Survey.id == survey.id, Survey.responded_at.is_(None))
                            .values(responded_at=now, score=score, comment=comment, via=via)
                            .execution_options(synchronize_session=False)).rowcount
    if spent != 1:
        session.expire(survey)
        raise SurveyLinkError("this survey was answered already; each link works once", reason="used")
    session.expire(survey)
    who = actor or system_actor("survey")
    text = label(survey)
    _on_timeline(session, survey, text, comment, who, now)
    if survey.case_id is not None:
        _on_case(session, survey.case_id, f"{text} (by {via})" + (f": {comment}" if comment else ""), now,
                 contact_id=survey.contact_id)
    audit(session, actor=who, entity=ENTITY, entity_id=survey.id, action="answer", now=now,
          changes={"score": (None, score), "via": (None, via), **({"comment": (None, comment)} if comment else {})})
    return survey


def _on_timeline(session: Session, survey: Survey, subject: str, body: str | None, actor: Actor,
                 now: datetime) -> None:
    """The answer as a system entry on the contact's timeline (and their company's)."""
    if survey.contact_id is None:
        return
    company_id = session.scalar(select(Contact.company_id).where(Contact.id == survey.contact_id))
    activity = Activity(kind=ActivityKind.SYSTEM.value, occurred_at=now, subject=subject[:300], body=body,
                        outcome=survey.kind, contact_id=survey.contact_id, company_id=company_id,
                        user_id=actor.user_id, created_at=now, updated_at=now)
    session.add(activity)
    session.flush()
    audit(session, actor=actor, entity="activity", entity_id=activity.id, action="create", now=now,
          summary=f"system: {subject}"[:2000])


def _on_case(session: Session, case_id: int, body: str, now: datetime, *, direction: str = "in",
             contact_id: int | None = None) -> None:
    """An internal entry on the case's thread. Written here rather than through
    services/cases.add_entry: the case service calls this module when a case is resolved, and the
    house allows no import cycle; an internal entry by nobody has none of add_entry's effects
    (first response, reopening), so the row is all there is to it."""
    session.add(CaseEntry(case_id=case_id, visibility=INTERNAL, direction=direction, contact_id=contact_id,
                          body=body[:MAX_COMMENT + 200], created_at=now, updated_at=now))
    session.flush()


def add_comment(session: Session, token: str, comment: str, *, now: datetime | None,
                settings: Settings | None = None, key: bytes | None = None) -> Survey:
    """The comment the thank-you page asks for, after a score given by the link: once, within
    COMMENT_HOURS of answering."""
    now = resolve_now(now)
    survey = _verified(session, token, key if key is not None else signing_key(settings))
    text = _comment(comment)
    if not text:
        raise InvalidInput("the comment is empty")
    if survey.responded_at is None:
        raise InvalidInput("choose a score first")
    if survey.comment is not None or survey.via != "link" or now - survey.responded_at > timedelta(hours=COMMENT_HOURS):
        raise SurveyLinkError("this survey's answer is complete; thank you", reason="used")
    done = session.execute(update(Survey).where(Survey.id == survey.id, Survey.comment.is_(None))
                           .values(comment=text).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise SurveyLinkError("this survey's answer is complete; thank you", reason="used")
    session.expire(survey)
    who = system_actor("survey")
    _on_timeline(session, survey, f"Comment on {label(survey)}", text, who, now)
    if survey.case_id is not None:
        _on_case(session, survey.case_id, f"Comment on {label(survey)}: {text}", now, contact_id=survey.contact_id)
    audit(session, actor=who, entity=ENTITY, entity_id=survey.id, action="comment", now=now,
          changes={"comment": (None, text)})
    return survey


def unsubscribe(session: Session, token: str, *, now: datetime | None, settings: Settings | None = None,
                key: bytes | None = None) -> Contact:
    """The survey email's unsubscribe link: its contact is marked do not email (the unsubscribe of
    services/sequences, which also stops their sequences). Works on an answered survey too."""
    now = resolve_now(now)
    survey = _verified(session, token, key if key is not None else signing_key(settings))
    if survey.contact_id is None:
        raise NotFound("the contact this survey went to is no longer in the CRM")
    sequences.unsubscribe(session, system_actor("survey"), survey.contact_id, now=now)
    return session.get(Contact, survey.contact_id)


def peek(session: Session, token: str, *, settings: Settings | None = None, key: bytes | None = None) -> Survey:
    """The survey a genuine token names, without spending it (the unsubscribe page's question)."""
    return _verified(session, token, key if key is not None else signing_key(settings))


# --- answers by email ---------------------------------------------------------------------------

_NUMBER = re.compile(r"\s*(\d{1,2})(?!\d)(?:\s*/\s*(?:5|10)\b)?\s*[-–—:,.!)]*\s*(.*)")
_ATTRIBUTION = re.compile(r"^(on\b.*\bwrote:?|-{2,}\s*original message\s*-{2,}|from:\s.*|sent from my\b.*)$",
                          re.IGNORECASE)
REPLY_LINES = 10  # the lines after the score read as the comment


def parse_reply(body: str | None) -> tuple[int, str | None] | None:
    """(score, comment) from a reply's text: its first non-quoted, non-empty line starts with a
    number; the rest of that line and the lines after it (up to a quote, an attribution such as
    "On ... wrote:" or a signature "-- ") are the comment. None when it starts otherwise."""
    lines = (body or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(">")), None)
    if first is None or _ATTRIBUTION.match(lines[first].strip()):
        return None
    found = _NUMBER.fullmatch(lines[first])
    if found is None:
        return None
    rest = [found.group(2).strip()]
    for line in lines[first + 1:first + 1 + REPLY_LINES]:
        text = line.strip()
        if text.startswith(">") or _ATTRIBUTION.match(text) or line.rstrip() == "--" or line.startswith("-- "):
            break
        rest.append(text)
    comment = "\n".join(rest).strip()
    return int(found.group(1)), (comment[:MAX_COMMENT] or None)


def score_from_reply(session: Session, message: EmailMessage, *, now: datetime | None) -> Survey | None:
    """A reply to a survey email (In-Reply-To or References name the email a survey went out as)
    that gives a score ("4", "5 - great"): recorded, by "reply", and returned; None when the
    message answers no open survey, or does not start with a number in the survey's range."""
    now = resolve_now(now)
    refs = [r.strip().strip("<>") for r in [message.in_reply_to or "", *(message.references or "").split()]]
    refs = [r for r in dict.fromkeys(refs) if r][:50]
    if not refs:
        return None
    survey = session.scalar(select(Survey).join(EmailMessage, EmailMessage.id == Survey.email_id)
                            .where(EmailMessage.message_id.in_(refs)).order_by(Survey.id.desc()).limit(1))
    if survey is None or survey.responded_at is not None:
        return None
    parsed = parse_reply(message.body)
    if parsed is None:
        return None
    score, comment = parsed
    low, high = RANGES[survey.kind]
    if not low <= score <= high:
        return None
    try:
        return _record(session, survey, score, _comment(comment), via="reply", now=now, actor=None)
    except SurveyLinkError:  # answered by a link a moment ago
        return None


# --- CSAT: the survey a resolved case sends ---------------------------------------------------

CSAT_SUBJECT = "How did we do? Case #{{ case.id }}: {{ case.subject }}"
CSAT_BODY = """Hello {{ contact.first_name | default("there") }},

Your case #{{ case.id }} ("{{ case.subject }}") is resolved. How satisfied are you with the help you got?
Choose a number, from 1 (not at all) to 5 (very):

{{ survey.links }}

or simply reply with a number from 1 to 5.

Thank you,
{{ me.name }}
"""
REPLY_HINT = "or simply reply with a number from 1 to 5"
_SKIPS = "surveys_skipped"  # session.info: {case id: why no CSAT went out}


def skip_reason(session: Session, case_id: int) -> str | None:
    """Why on_resolved sent no CSAT for this case in this session (for the CLI's and the app's
    message), or None."""
    return session.info.get(_SKIPS, {}).get(case_id)


def _skip(session: Session, case: Case, why: str) -> None:
    session.info.setdefault(_SKIPS, {})[case.id] = why
    log.info("no CSAT survey for case #%s: %s", case.id, why)


def links(base: str, token: str, kind: str) -> dict[int, str]:
    low, high = RANGES[kind]
    return {n: f"{base}/survey/{token}?score={n}" for n in range(low, high + 1)}


def from_address(settings: Settings | None) -> str | None:
    """Survey emails go from the support address (so a reply reaches mail capture), else the
    [smtp] sender (None here)."""
    return _support(settings).sender()


def _template(session: Session, name: str | None) -> tuple[str, str] | None:
    if not name:
        return None
    row = session.execute(select(EmailTemplate.subject, EmailTemplate.body)
                          .where(EmailTemplate.name_key == v.fold(name)[:100], EmailTemplate.archived.is_(False))
                          ).first()
    if row is None:
        log.warning("the survey template %r is not there; the built-in text is used", name)
        return None
    return row.subject, row.body


def fill(session: Session, *, actor: Actor, contact_id: int, subject: str, body: str, survey: dict,
         extra: dict | None = None, records: MergeRecords | None = None,
         me: email_templates.Fields | None = None) -> tuple[str, str]:
    """A survey email's subject and body from a template (Jinja2's sandbox, services/email_templates)
    with the contact's fields, `me`, `survey` (links, url_N, unsubscribe) and `extra` (the case).
    A template that leaves the links out gets them added at the end. `records` and `me`: a batch's
    contacts, companies and sender, read once (email_templates.merge_records, me_fields)."""
    from crm_tui.services import email_templates

    if records is not None:
        context = records.context(contact_id, me or email_templates.me_fields(session, actor))
    else:
        context = email_templates.merge_context(session, actor=actor, contact_id=contact_id)
    context["survey"] = email_templates.Fields("survey", survey)
    for name, values in (extra or {}).items():
        context[name] = email_templates.Fields(name, values)
    filled_subject = " ".join(email_templates.render_text(subject, context, "subject").split())[:300]
    filled_body = email_templates.render_text(body, context, "body")
    if survey["token"] not in filled_body:
        filled_body = f"{filled_body.rstrip()}\n\n{survey['links']}\n"
    return filled_subject, filled_body


def on_resolved(session: Session, case: Case, *, actor: Actor, settings: Settings | None,
                now: datetime | None) -> Survey | None:
    """Queue the CSAT survey of a case just resolved: one per case ever (uq_surveys_case; a case
    reopened and resolved again gets none), to its contact, through the outbox. None, with the
    reason kept for skip_reason(), when none goes out: no contact or address, do not email,
    surveys not set up, sent before, or the template failed (the case is resolved all the same)."""
    now = resolve_now(now)
    try:
        key, why = configured_key(settings)
    except InvalidInput as exc:  # a key too short: the case is resolved all the same
        key, why = None, exc.message
    contact = session.get(Contact, case.contact_id) if case.contact_id is not None else None
    if why is None:
        if contact is None:
            why = "the case has no contact"
        elif contact.do_not_email:
            why = f"{contact.full_name or 'the contact'} is marked do not email"
        elif not contact.email:
            why = f"{contact.full_name or 'the contact'} has no email address"
        elif session.scalar(select(Survey.id).where(Survey.kind == CSAT, Survey.case_id == case.id)) is not None:
            why = "a CSAT survey went out for this case before"
    if why is not None:
        _skip(session, case, why)
        return None
    try:
        with session.begin_nested():
            return _send_csat(session, case, contact, key, actor=actor, settings=settings, now=now)
    except InvalidInput as exc:
        _skip(session, case, f"the survey email could not be made: {exc.message}")
        return None


def _send_csat(session: Session, case: Case, contact: Contact, key: bytes, *, actor: Actor,
               settings: Settings | None, now: datetime) -> Survey | None:
    table = Survey.__table__
    made = session.execute(sequences.dialect_insert(session, table).values(
        kind=CSAT, case_id=case.id, contact_id=contact.id, user_id=case.assignee_id, team=case.team,
        token_hash=placeholder(), sent_at=now,
    ).on_conflict_do_nothing().returning(table.c.id)).scalar()
    if made is None:  # resolved twice at once: the other one sent it
        _skip(session, case, "a CSAT survey went out for this case before")
        return None
    token = make_token(key, made)
    session.execute(update(table).where(table.c.id == made).values(token_hash=token_hash(token)))
    base = _support(settings).survey_url
    urls = links(base, token, CSAT)
    survey_fields = {"token": token, "links": "\n".join(f"  {n}: {url}" for n, url in urls.items()),
                     "reply_hint": REPLY_HINT, **{f"url_{n}": url for n, url in urls.items()}}
    subject, body = _template(session, _support(settings).csat_template) or (CSAT_SUBJECT, CSAT_BODY)
    subject, body = fill(session, actor=actor, contact_id=contact.id, subject=subject, body=body,
                         survey=survey_fields, extra={"case": {"id": case.id, "subject": case.subject,
                                                               "number": f"#{case.id}"}})
    if REPLY_HINT not in body:
        body = f"{body.rstrip()}\n\n{REPLY_HINT}.\n"
    queued = send_survey_email(session, to=contact.email, subject=subject, body=body, contact_id=contact.id,
                               company_id=case.company_id, settings=settings, now=now,
                               rule=f"CSAT case #{case.id}")
    session.execute(update(table).where(table.c.id == made).values(email_id=queued.email_id))
    audit(session, actor=actor, entity=ENTITY, entity_id=made, action="send", now=now,
          summary=f"CSAT for case #{case.id} to {contact.email}")
    _on_case(session, case.id, f"CSAT survey sent to {contact.email}", now, direction="out")
    return session.get(Survey, made)


def send_survey_email(session: Session, *, to: str, subject: str, body: str, contact_id: int,
                      company_id: int | None, settings: Settings | None, now: datetime,
                      rule: str) -> mail_send.Queued:
    """Through the outbox, as the system: stored on the contact's timeline, sent after commit."""
    smtp = settings.smtp if settings is not None else None
    return mail_send.send(
        session, draft=mail_send.Draft(to=[to], subject=subject, body=body, contact_id=contact_id,
                                       company_id=company_id),
        actor=system_actor("survey"), now=now, source="workflow", rule=rule[:100],
        from_addr=from_address(settings), id_from=smtp.sender if smtp is not None else None,
        outcome="survey")


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyRow:
    id: int
    kind: str
    case_id: int | None
    run_key: str | None
    contact_id: int | None
    contact: str | None
    email: str | None
    user_id: int | None
    team: str | None
    sent_at: datetime
    responded_at: datetime | None
    score: int | None
    comment: str | None
    via: str | None

    @property
    def label(self) -> str:
        score = "—" if self.score is None else f"{self.score}/{RANGES[self.kind][1]}"
        return f"{self.kind.upper()} {score}"


def _rows_stmt():
    return (select(Survey.id, Survey.kind, Survey.case_id, Survey.run_key, Survey.contact_id,
                   Contact.full_name.label("contact"), Contact.email, Survey.user_id, Survey.team, Survey.sent_at,
                   Survey.responded_at, Survey.score, Survey.comment, Survey.via)
            .outerjoin(Contact, Contact.id == Survey.contact_id))


def _row(r) -> SurveyRow:
    return SurveyRow(**r._mapping)


def for_case(session: Session, case_id: int) -> list[SurveyRow]:
    """A case's surveys (its CSAT, at most one), for the case screen; the caller checked case.view."""
    return [_row(r) for r in session.execute(_rows_stmt().where(Survey.case_id == case_id).order_by(Survey.id))]


def for_contact(session: Session, contact_id: int, *, limit: int = 20) -> list[SurveyRow]:
    """A contact's latest surveys, newest first (ix_surveys_contact)."""
    return [_row(r) for r in session.execute(_rows_stmt().where(Survey.contact_id == contact_id)
                                             .order_by(Survey.id.desc()).limit(limit))]


LIST_KEY = SortKey(Survey.id, Survey.id, descending=True)


def list_surveys(session: Session, *, actor: Actor, kind: str | None = None, run_key: str | None = None,
                 answered: bool | None = None, after: str | None = None, limit: int = 50) -> Page[SurveyRow]:
    """Surveys, newest first, by keyset; needs survey.send (whose answers these are)."""
    permissions.require(session, actor, "survey.send")
    conditions = []
    if kind is not None:
        if kind not in (CSAT, NPS):
            raise InvalidInput(f"invalid survey kind {kind!r}: choose csat or nps")
        conditions.append(Survey.kind == kind)
    if run_key is not None:
        conditions.append(Survey.run_key == run_key)
    if answered is not None:
        conditions.append(Survey.responded_at.is_not(None) if answered else Survey.responded_at.is_(None))
    rows, next_, prev_ = keyset_page(session, _rows_stmt().where(*conditions), LIST_KEY,
                                     row_key=lambda r: (r.id, r.id), after=after, limit=limit)
    return Page([_row(r) for r in rows], next_, prev_)


def get_survey(session: Session, survey_id: int | str, *, actor: Actor) -> SurveyRow:
    permissions.require(session, actor, "survey.send")
    id_ = parse_id(str(survey_id).lstrip("#"))
    row = session.execute(_rows_stmt().where(Survey.id == id_)).first() if id_ is not None and id_ < 2**31 else None
    if row is None:
        raise NotFound(f"no survey with id {survey_id}", see="crm survey list")
    return _row(row)
