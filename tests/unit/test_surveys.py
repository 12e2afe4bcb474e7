"""Customer satisfaction (issue 23): the CSAT a resolved case sends (once per case, through the
outbox, with signed single-use links), answers by link, reply and hand, and NPS runs (once per
contact and run, do not email skipped, the unsubscribe link). On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.config import Settings, SupportConfig
from crm_tui.errors import Forbidden, InvalidInput
from crm_tui.models import Activity, AuditEvent, Contact, EmailMessage
from crm_tui.models.case import CSAT, INTERNAL, NPS, RESOLVED, Case, CaseEntry, Survey
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import contacts, email_templates, survey_nps, surveys, users

KEY_ENV = "CRM_TEST_SURVEY_KEY"
KEY = "k" * 32
URL = "https://crm.example.com"
LINK = re.compile(r"https://crm\.example\.com/survey/([^?\s]+)\?score=(\d+)")


@pytest.fixture
def settings(monkeypatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, KEY)
    return Settings(support=SupportConfig(addresses=("support@acme.example",), team="Support", survey_url=URL,
                                          secret_env=KEY_ENV))


@pytest.fixture
def people(db, actor, now):
    """Lee (an address), Max (none), Dee (do not email); a resolved case of Lee's."""
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"name": "Ann Admin", "email": "ann@team.example"},
                          actor=actor, now=now)
        made = {}
        for first, email in (("Lee", "lee@acme.example"), ("Max", None), ("Dee", "dee@acme.example")):
            made[first] = contacts.create_contact(
                s, data={"first_name": first, "last_name": "Park", "emails": [email] if email else [],
                         "lifecycle": "customer"}, actor=actor, now=now).id
        s.execute(Contact.__table__.update().where(Contact.id == made["Dee"]).values(do_not_email=True))
        for first in ("Lee", "Max", "Dee"):
            case = Case(subject=f"Printer on fire ({first})", contact_id=made[first], status=RESOLVED,
                        assignee_id=actor.user_id, team="Support", created_at=now, updated_at=now, resolved_at=now)
            s.add(case)
            s.flush()
            made[f"case:{first}"] = case.id
    return made


def _resolve(db, actor, settings, now, case_id):
    with db.write() as s:
        survey = surveys.on_resolved(s, s.get(Case, case_id), actor=actor, settings=settings, now=now)
        return (survey.id if survey else None), surveys.skip_reason(s, case_id)


def _email_of(db, survey_id):
    """The survey's queued email: status, from_addr, to_addrs, subject, body."""
    o = EmailOutbox
    with db.read() as s:
        email_id = s.scalar(select(Survey.email_id).where(Survey.id == survey_id))
        return s.execute(select(o.status, o.from_addr, o.to_addrs, o.subject, o.body)
                         .where(o.email_id == email_id)).one()


def _links(body: str) -> dict[int, str]:
    return {int(n): token for token, n in LINK.findall(body)}


# --- CSAT ---------------------------------------------------------------------------------------


def test_a_resolved_case_queues_one_csat_email_with_five_signed_links(db, actor, now, settings, people):
    survey_id, why = _resolve(db, actor, settings, now, people["case:Lee"])
    assert survey_id is not None and why is None
    email = _email_of(db, survey_id)
    assert email.status == "queued" and email.to_addrs == ["lee@acme.example"]
    assert email.from_addr == "Support <support@acme.example>"
    assert f"#{people['case:Lee']}" in email.subject
    found = _links(email.body)
    assert sorted(found) == [1, 2, 3, 4, 5] and len(set(found.values())) == 1
    assert "or simply reply with a number from 1 to 5" in email.body
    token = found[1]
    with db.read() as s:
        survey = s.get(Survey, survey_id)
        assert (survey.kind, survey.case_id, survey.contact_id, survey.user_id, survey.team) == (
            CSAT, people["case:Lee"], people["Lee"], actor.user_id, "Support")
        # only the token's hash is stored, never the token
        assert survey.token_hash == surveys.token_hash(token) and token not in survey.token_hash
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "survey", AuditEvent.action == "send")) == 1
        # the email is on the contact's timeline
        assert s.scalar(select(func.count()).select_from(Activity).where(
            Activity.contact_id == people["Lee"], Activity.kind == "email")) == 1


def test_a_case_gets_its_csat_exactly_once_even_when_resolved_again(db, actor, now, settings, people):
    first, _ = _resolve(db, actor, settings, now, people["case:Lee"])
    again, why = _resolve(db, actor, settings, now + timedelta(days=2), people["case:Lee"])
    assert first is not None and again is None and "before" in why
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Survey)) == 1
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 1


@pytest.mark.parametrize("who, reason", [("Max", "no email address"), ("Dee", "do not email")])
def test_no_csat_to_a_contact_without_an_address_or_who_asked_not(db, actor, now, settings, people, who, reason):
    survey_id, why = _resolve(db, actor, settings, now, people[f"case:{who}"])
    assert survey_id is None and reason in why
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 0


@pytest.mark.parametrize("support, reason", [
    ({"survey_url": None}, "survey_url"), ({"secret_env": "CRM_TEST_NO_SUCH_KEY"}, "signing key")])
def test_no_csat_when_surveys_are_not_set_up(db, actor, now, settings, people, support, reason):
    settings = Settings(support=SupportConfig(**{"survey_url": URL, "secret_env": KEY_ENV, **support}))
    survey_id, why = _resolve(db, actor, settings, now, people["case:Lee"])
    assert survey_id is None and reason in why
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Survey)) == 0


def test_the_csat_template_is_used_and_a_template_without_links_gets_them(db, actor, now, settings, people):
    with db.write() as s:
        email_templates.add_template(s, name="How did we do?", subject="Case {{ case.number }}: rate us",
                                     body="Hi {{ contact.first_name }}, thanks from {{ me.name }}.", actor=actor,
                                     now=now, shared=True)
    settings = Settings(support=SupportConfig(**{**vars(settings.support), "csat_template": "how did we do?"}))
    survey_id, _ = _resolve(db, actor, settings, now, people["case:Lee"])
    email = _email_of(db, survey_id)
    assert email.subject == f"Case #{people['case:Lee']}: rate us"
    assert email.body.startswith("Hi Lee, thanks from Ann Admin.")
    assert sorted(_links(email.body)) == [1, 2, 3, 4, 5]
    assert "or simply reply with a number from 1 to 5" in email.body


def test_a_template_that_fails_leaves_the_case_resolved_and_says_why(db, actor, now, settings, people):
    with db.write() as s:
        email_templates.add_template(s, name="Broken", subject="Rate us", body="{{ contact.custom.tier }}",
                                     actor=actor, now=now, shared=True)
    settings = Settings(support=SupportConfig(**{**vars(settings.support), "csat_template": "Broken"}))
    survey_id, why = _resolve(db, actor, settings, now, people["case:Lee"])
    assert survey_id is None and "tier" in why
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Survey)) == 0
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 0


# --- answers by link ----------------------------------------------------------------------------


@pytest.fixture
def csat(db, actor, now, settings, people):
    survey_id, _ = _resolve(db, actor, settings, now, people["case:Lee"])
    return survey_id, _links(_email_of(db, survey_id).body)[4]


def test_an_answer_by_link_is_recorded_on_the_timeline_the_case_and_the_trail(db, now, settings, people, csat):
    survey_id, token = csat
    with db.write() as s:
        survey = surveys.answer(s, token, 4, comment="Quick, thanks", now=now + timedelta(hours=1),
                                settings=settings)
        assert (survey.id, survey.score, survey.comment, survey.via) == (survey_id, 4, "Quick, thanks", "link")
    with db.read() as s:
        note = s.scalar(select(Activity).where(Activity.contact_id == people["Lee"], Activity.kind == "system"))
        assert note.subject == f"CSAT 4/5 for case #{people['case:Lee']}" and note.body == "Quick, thanks"
        entries = s.scalars(select(CaseEntry.body).where(CaseEntry.case_id == people["case:Lee"],
                                                         CaseEntry.visibility == INTERNAL)).all()
        assert any(e.startswith(f"CSAT 4/5 for case #{people['case:Lee']}") for e in entries)
        trail = s.scalars(select(AuditEvent.field).where(AuditEvent.entity == "survey",
                                                         AuditEvent.action == "answer")).all()
        assert set(trail) == {"score", "via", "comment"}
        assert [x.label for x in surveys.for_case(s, people["case:Lee"])] == ["CSAT 4/5"]


def test_a_link_works_once(db, now, settings, csat):
    _, token = csat
    with db.write() as s:
        surveys.answer(s, token, 5, now=now, settings=settings)
    with db.write() as s:
        with pytest.raises(surveys.SurveyLinkError, match="answered already") as caught:
            surveys.answer(s, token, 1, now=now, settings=settings)
        assert caught.value.reason == "used"
    with db.read() as s:
        assert s.scalar(select(Survey.score)) == 5


@pytest.mark.parametrize("change", ["mac", "id", "nonce", "junk", "empty", "long"])
def test_a_forged_token_is_refused_and_writes_nothing(db, now, settings, csat, change):
    survey_id, token = csat
    sid, nonce, mac = token.split(".")
    forged = {"mac": f"{sid}.{nonce}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
              "id": f"{int(sid) + 1}.{nonce}.{mac}",
              "nonce": f"{sid}.{nonce[::-1]}.{mac}",
              "junk": "../../etc/passwd", "empty": "", "long": token * 5}[change]
    with db.write() as s:
        with pytest.raises(surveys.SurveyLinkError, match="not valid") as caught:
            surveys.answer(s, forged, 4, now=now, settings=settings)
        assert caught.value.reason == "forged"
    with db.read() as s:
        assert s.scalar(select(Survey.responded_at).where(Survey.id == survey_id)) is None


def test_a_token_signed_with_another_key_is_refused(db, now, settings, csat, monkeypatch):
    survey_id, _ = csat
    other = surveys.make_token(b"another key that is long enough", survey_id)
    with db.write() as s:
        with pytest.raises(surveys.SurveyLinkError, match="not valid"):
            surveys.answer(s, other, 4, now=now, settings=settings)
        # a genuine MAC over a survey id whose stored hash is another token's: refused too
        monkeypatch.setenv(KEY_ENV, KEY)
        with pytest.raises(surveys.SurveyLinkError, match="not valid"):
            surveys.answer(s, surveys.make_token(KEY.encode(), survey_id), 4, now=now, settings=settings)


@pytest.mark.parametrize("score", [0, 6, -1, "five", 4.5, True, None])
def test_a_score_out_of_range_is_refused_and_the_link_stays_usable(db, now, settings, csat, score):
    _, token = csat
    with db.write() as s:
        with pytest.raises(InvalidInput, match="from 1 to 5"):
            surveys.answer(s, token, score, now=now, settings=settings)
    with db.write() as s:
        assert surveys.answer(s, token, "3", now=now, settings=settings).score == 3


def test_an_old_link_has_expired(db, now, settings, csat):
    _, token = csat
    with db.write() as s:
        with pytest.raises(surveys.SurveyLinkError, match="expired") as caught:
            surveys.answer(s, token, 4, now=now + timedelta(days=surveys.VALID_DAYS + 1), settings=settings)
        assert caught.value.reason == "expired"


def test_a_comment_may_follow_a_link_answer_once(db, now, settings, csat):
    _, token = csat
    with db.write() as s:
        with pytest.raises(InvalidInput, match="score first"):
            surveys.add_comment(s, token, "hi", now=now, settings=settings)
        surveys.answer(s, token, 2, now=now, settings=settings)
        assert surveys.add_comment(s, token, "Slow reply", now=now, settings=settings).comment == "Slow reply"
        with pytest.raises(surveys.SurveyLinkError, match="complete"):
            surveys.add_comment(s, token, "again", now=now, settings=settings)


def test_typing_an_answer_in_needs_survey_send(db, actor, now, settings, csat):
    _, token = csat
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "name": "Sam", "role": "support"}, actor=actor, now=now)
        sam = users.actor_for(s, login="sam", now=now)
        with pytest.raises(Forbidden):
            surveys.answer(s, token, 4, now=now, settings=settings, actor=sam, via="manual")
        survey = surveys.answer(s, token, 4, now=now, settings=settings, actor=actor, via="manual")
        assert survey.via == "manual"
        assert s.scalar(select(AuditEvent.actor).where(AuditEvent.entity == "survey",
                                                       AuditEvent.action == "answer").limit(1)) == "ann"


# --- answers by reply ---------------------------------------------------------------------------


@pytest.mark.parametrize("body, expected", [
    ("4", (4, None)),
    ("5 - great work\nthanks a lot\n\nOn Mon, Ann wrote:\n> How did we do?", (5, "great work\nthanks a lot")),
    ("\n\n  3/5, could be faster\n-- \nLee Park\nAcme", (3, "could be faster")),
    ("> 1: https://x\n> 2: https://x\n2", (2, None)),
    ("Thanks! 5\n", None),
    ("On Mon, Ann wrote:\n> 5", None),
    ("123", None),
    ("", None),
])
def test_reply_parsing(body, expected):
    assert surveys.parse_reply(body) == expected


def _reply(db, now, survey_id, body, *, refs_only=False):
    with db.write() as s:
        parent = s.scalar(select(EmailMessage.message_id).join(Survey, Survey.email_id == EmailMessage.id)
                          .where(Survey.id == survey_id))
        message = EmailMessage(message_id=f"reply-{len(body)}-{now.timestamp()}@acme.example",
                               in_reply_to=None if refs_only else parent,
                               references=f"<other@x> <{parent}>" if refs_only else None,
                               thread_key=parent, direction="in", subject="Re: How did we do?",
                               from_addr="lee@acme.example", to_addrs=["support@acme.example"], sent_at=now,
                               body=body, source="sync")
        s.add(message)
        s.flush()
        found = surveys.score_from_reply(s, message, now=now)
        return found.id if found else None


def test_a_reply_with_a_number_answers_the_survey(db, now, settings, people, csat):
    survey_id, _ = csat
    assert _reply(db, now, survey_id, "5 — sorted in an hour!\n\nOn Mon, Support wrote:\n> How did we do?",
                  refs_only=True) == survey_id
    with db.read() as s:
        survey = s.get(Survey, survey_id)
        assert (survey.score, survey.comment, survey.via) == (5, "sorted in an hour!", "reply")
    # a second reply changes nothing
    assert _reply(db, now, survey_id, "1") is None
    with db.read() as s:
        assert s.get(Survey, survey_id).score == 5


@pytest.mark.parametrize("body", ["Thanks, all good", "7", "> 4\nno"])
def test_a_reply_without_a_score_in_range_answers_nothing(db, now, settings, csat, body):
    survey_id, _ = csat
    assert _reply(db, now, survey_id, body) is None
    with db.read() as s:
        assert s.get(Survey, survey_id).responded_at is None


def test_a_message_that_answers_no_survey_is_left_alone(db, now):
    with db.write() as s:
        message = EmailMessage(message_id="lone@x", in_reply_to="unknown@x", thread_key="unknown@x",
                               direction="in", from_addr="a@x", sent_at=now, body="5", source="sync")
        s.add(message)
        s.flush()
        assert surveys.score_from_reply(s, message, now=now) is None


# --- NPS ----------------------------------------------------------------------------------------


def _run(db, actor, settings, now, run_key="nps-2026-q4", limit=survey_nps.BATCH, **segment):
    sent, after = 0, 0
    while True:
        with db.write() as s:
            conditions = survey_nps.segment(s, actor=actor, now=now, **(segment or {"lifecycle": ["customer"]}))
            batch = survey_nps.send_batch(s, actor=actor, run_key=run_key, conditions=conditions,
                                          settings=settings, now=now, after=after, limit=limit)
        sent, after = sent + batch.sent, batch.after
        if batch.done:
            return sent


def test_an_nps_run_surveys_each_contact_once_and_skips_do_not_email(db, actor, now, settings, people):
    with db.write() as s:
        for n in range(5):
            contacts.create_contact(s, data={"first_name": f"C{n}", "last_name": "X", "lifecycle": "customer",
                                             "emails": [f"c{n}@x.example"]}, actor=actor, now=now)
        plan = survey_nps.plan(s, actor=actor, run_key="nps-2026-q4",
                               conditions=survey_nps.segment(s, actor=actor, lifecycle=["customer"], now=now))
    assert (plan.to_send, plan.already, plan.do_not_email, plan.no_email) == (6, 0, 1, 1)
    assert _run(db, actor, settings, now, limit=2) == 6  # in batches of two
    assert _run(db, actor, settings, now) == 0  # run again: nobody twice
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Survey).where(Survey.kind == NPS)) == 6
        assert s.scalar(select(func.count()).select_from(EmailOutbox)) == 6
        assert s.scalar(select(Survey.id).where(Survey.contact_id.in_([people["Dee"], people["Max"]]))) is None
        assert s.scalar(select(func.count()).select_from(Survey).where(Survey.token_hash.like("~%"))) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "survey", AuditEvent.action == "send")) == 6
    # another run is another survey
    assert _run(db, actor, settings, now, run_key="nps-2027-q1") == 6


def test_an_nps_batch_reads_its_contacts_and_companies_once(db, actor, now, settings, people):
    """The templates' merge fields (and the send's check that the records exist) take the same
    reads of contacts and companies for one contact as for six: none runs per contact."""
    from sqlalchemy import event

    from crm_tui.services import companies

    with db.write() as s:
        firm = companies.create_company(s, data={"name": "Batch Firm"}, actor=actor, now=now).id
        for n in range(6):
            contacts.create_contact(s, data={"first_name": f"B{n}", "last_name": "X", "lifecycle": "lead",
                                             "company_id": firm, "emails": [f"b{n}@x.example"]}, actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Solo", "last_name": "X", "lifecycle": "former",
                                         "company_id": firm, "emails": ["solo@x.example"]}, actor=actor, now=now)
    body = "Hi {{ contact.first_name }} of {{ company.name }}, {{ survey.links }} {{ survey.unsubscribe }}"
    reads: list[str] = []

    def by_id(conn, cursor, statement, parameters, context, executemany):
        flat = " ".join(statement.split())
        # mail_store's linking of each stored email reads its contacts' companies on its own
        if flat.startswith("SELECT") and "SELECT contacts.id, contacts.company_id FROM" not in flat and (
                " FROM contacts WHERE contacts.id" in flat or " FROM companies WHERE companies.id" in flat):
            reads.append(flat)

    def batch(lifecycle):
        reads.clear()
        event.listen(db.engine, "before_cursor_execute", by_id)
        try:
            with db.write() as s:
                conditions = survey_nps.segment(s, actor=actor, now=now, lifecycle=[lifecycle])
                done = survey_nps.send_batch(s, actor=actor, run_key="r", conditions=conditions, settings=settings,
                                             now=now, template=("Hello {{ company.name }}", body))
        finally:
            event.remove(db.engine, "before_cursor_execute", by_id)
        assert not done.errors
        return done.sent, len(reads)

    one, six = batch("former"), batch("lead")
    assert one[0] == 1 and six[0] == 6
    assert six[1] == one[1] == 2, reads  # the contacts, their companies
    with db.read() as s:
        assert "of Batch Firm" in s.scalar(select(EmailOutbox.body).where(EmailOutbox.to_addr == "b3@x.example"))


def test_nps_links_go_from_0_to_10_and_the_answer_is_recorded(db, actor, now, settings, people):
    _run(db, actor, settings, now)
    with db.read() as s:
        survey_id = s.scalar(select(Survey.id).where(Survey.contact_id == people["Lee"]))
    body = _email_of(db, survey_id).body
    found = _links(body)
    assert sorted(found) == list(range(11))
    assert f"{URL}/survey/{found[0]}/unsubscribe" in body
    with db.write() as s:
        with pytest.raises(InvalidInput, match="from 0 to 10"):
            surveys.answer(s, found[0], 11, now=now, settings=settings)
        assert surveys.answer(s, found[0], 0, comment="meh", now=now, settings=settings).score == 0
    with db.read() as s:
        assert s.scalar(select(Activity.subject).where(Activity.kind == "system")) == "NPS 0/10 (nps-2026-q4)"


def test_the_unsubscribe_link_marks_the_contact_do_not_email(db, actor, now, settings, people):
    _run(db, actor, settings, now)
    with db.read() as s:
        survey_id = s.scalar(select(Survey.id).where(Survey.contact_id == people["Lee"]))
    token = _links(_email_of(db, survey_id).body)[0]
    with db.write() as s:
        assert surveys.unsubscribe(s, token, now=now, settings=settings).do_not_email is True
        with pytest.raises(surveys.SurveyLinkError):
            surveys.unsubscribe(s, token[:-2] + "xx", now=now, settings=settings)
    with db.read() as s:
        assert s.scalar(select(AuditEvent.actor).where(AuditEvent.entity == "contact",
                                                       AuditEvent.field == "do_not_email")) == "system:survey"
    assert _run(db, actor, settings, now, run_key="nps-2027-q1") == 0  # Lee left, and Kim never had an address


def test_nps_needs_survey_send_a_segment_and_a_sane_run_key(db, actor, now, settings, people):
    with db.write() as s:
        users.create_user(s, data={"login": "sue", "name": "Sue", "role": "sales"}, actor=actor, now=now)
        sue = users.actor_for(s, login="sue", now=now)
        with pytest.raises(InvalidInput, match="whom to survey"):
            survey_nps.segment(s, actor=actor, now=now)
        conditions = survey_nps.segment(s, actor=actor, lifecycle=["customer"], now=now)
        with pytest.raises(Forbidden):
            survey_nps.send_batch(s, actor=sue, run_key="r1", conditions=conditions, settings=settings, now=now)
        with pytest.raises(InvalidInput, match="run key"):
            survey_nps.send_batch(s, actor=actor, run_key="a b", conditions=conditions, settings=settings, now=now)
        with pytest.raises(Forbidden):
            surveys.list_surveys(s, actor=sue)


def test_period_keys():
    from datetime import datetime, timezone

    at = datetime(2026, 11, 23, tzinfo=timezone.utc)
    assert [survey_nps.period_key(p, at) for p in survey_nps.PERIODS] == ["nps-2026-11", "nps-2026-q4", "nps-2026"]
    with pytest.raises(InvalidInput):
        survey_nps.period_key("week", at)


def test_surveys_list_by_keyset(db, actor, now, settings, people):
    _run(db, actor, settings, now)
    _resolve(db, actor, settings, now, people["case:Lee"])
    with db.read() as s:
        first = surveys.list_surveys(s, actor=actor, limit=1)
        second = surveys.list_surveys(s, actor=actor, after=first.next_cursor, limit=5)
        assert [x.kind for x in first.items + second.items] == ["csat", "nps"]
        assert [x.kind for x in surveys.list_surveys(s, actor=actor, kind="nps").items] == ["nps"]
        assert surveys.list_surveys(s, actor=actor, run_key="nope").items == []
        with pytest.raises(InvalidInput):
            surveys.list_surveys(s, actor=actor, kind="xyz")


def test_a_send_reads_the_signing_key_once(db, actor, now, settings, people, monkeypatch):
    """The keyring costs a tenth of a second a look: a CSAT send and an NPS batch read it once each."""
    from crm_tui import secrets

    looks = []
    real = secrets.get_secret

    def counted(*args, **kwargs):
        looks.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(secrets, "get_secret", counted)
    survey_id, _why = _resolve(db, actor, settings, now, people["case:Lee"])
    assert survey_id is not None and len(looks) == 1
    looks.clear()
    assert _run(db, actor, settings, now, limit=10) == 1 and len(looks) == 1
