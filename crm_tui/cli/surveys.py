"""`crm survey`: the CSAT and NPS surveys and their answers, NPS runs to a list of contacts, and
an answer typed in by hand. CSAT surveys go out by themselves when a case is resolved."""

from __future__ import annotations

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.services import survey_nps, surveys

app = typer.Typer(name="survey", no_args_is_help=True,
                  help="Surveys: list, show, answer; nps send (CSAT goes out when a case is resolved).")
nps_app = typer.Typer(name="nps", no_args_is_help=True, help="NPS runs: send one to a list of contacts.")
app.add_typer(nps_app, name="nps")


def _json(x: surveys.SurveyRow) -> dict:
    return {"id": x.id, "kind": x.kind, "case": x.case_id, "run": x.run_key, "contact_id": x.contact_id,
            "contact": x.contact, "email": x.email, "user_id": x.user_id, "team": x.team, "sent_at": x.sent_at,
            "responded_at": x.responded_at, "score": x.score, "comment": x.comment, "via": x.via}


def _about(x: surveys.SurveyRow) -> str:
    return f"case #{x.case_id}" if x.case_id is not None else (x.run_key or "")


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: str | None = typer.Option(None, "--kind", help="csat or nps."),
    run: str | None = typer.Option(None, "--run", help="One NPS run, by its key (e.g. nps-2026-q4)."),
    answered: bool | None = typer.Option(None, "--answered/--unanswered", help="Only those answered (or not)."),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many."),
    after: str | None = typer.Option(None, "--after", help="The cursor a previous page printed."),
    as_json: output.Json = False,
) -> None:
    """Surveys, newest first, with their answers."""
    with state(ctx).read() as (session, actor):
        page = surveys.list_surveys(session, actor=actor, kind=kind.strip().lower() if kind else None,
                                    run_key=run, answered=answered, after=after, limit=limit)
        zone = actor.zone
    if as_json:
        output.emit_json({"items": [_json(x) for x in page.items], "next_cursor": page.next_cursor})
        return
    if not page.items:
        output.say("no surveys yet: CSAT surveys go out when a case is resolved; NPS with `crm survey nps send`")
        return
    output.table(["ID", "Kind", "About", "Contact", "Sent", "Score", "Via", "Comment"],
                 [(x.id, x.kind.upper(), _about(x), x.contact or "", output.local_time(x.sent_at, zone),
                   x.label.split(" ", 1)[1], x.via or "", (x.comment or "")[:40]) for x in page.items])
    output.more_hint(page, shown=len(page.items))


@app.command("show")
def show(ctx: typer.Context, ref: str = typer.Argument(..., help="The survey's id."),
         as_json: output.Json = False) -> None:
    """One survey: whom it went to, about what, and the answer."""
    with state(ctx).read() as (session, actor):
        x = surveys.get_survey(session, ref, actor=actor)
        zone = actor.zone
    if as_json:
        output.emit_json(_json(x))
        return
    output.details([("Survey", f"#{x.id} {x.kind.upper()}"), ("About", _about(x)),
                    ("Contact", f"{x.contact} <{x.email}>" if x.contact else None), ("Team", x.team),
                    ("Sent", output.local_time(x.sent_at, zone)),
                    ("Answered", output.local_time(x.responded_at, zone) if x.responded_at else "not yet"),
                    ("Score", x.label.split(" ", 1)[1] if x.score is not None else None), ("Via", x.via),
                    ("Comment", x.comment)])


@app.command("answer")
def answer(
    ctx: typer.Context,
    token: str = typer.Argument(..., help="The token of the survey's link (the part after /survey/)."),
    score: str = typer.Argument(..., help="CSAT 1-5, NPS 0-10."),
    comment: str | None = typer.Option(None, "--comment", help="What the customer said."),
    as_json: output.Json = False,
) -> None:
    """Record an answer a customer gave another way (on the phone), with their link's token: the
    same check as the link (signed, once). Needs survey.send."""
    st = state(ctx)
    with st.write() as (session, actor):
        survey = surveys.answer(session, token, score, comment=comment, now=resolve_now(None),
                                settings=st.settings, actor=actor, via="manual")
        text = surveys.label(survey)
        row = surveys.get_survey(session, survey.id, actor=actor)
    if as_json:
        output.emit_json(_json(row))
    else:
        output.say(f"recorded {text} (survey #{row.id})")


@nps_app.command("send")
def nps_send(
    ctx: typer.Context,
    run: str | None = typer.Option(None, "--run", help="The run's key (e.g. nps-2026-q4): a contact gets one "
                                                       "survey per run, however often it is sent."),
    every: str | None = typer.Option(None, "--every", help="month, quarter or year: the run is the period's "
                                                           "(nps-2026-q4), for a cron job."),
    view: str | None = typer.Option(None, "--view", help="A saved contact list (or a built-in one, e.g. "
                                                         "Customers), by name."),
    lifecycle: list[str] = typer.Option([], "--lifecycle", help="Contacts at this stage (repeatable)."),
    company: str | None = typer.Option(None, "--company", help="The contacts of this company (id or name)."),
    tag: str | None = typer.Option(None, "--tag", help="Contacts with this tag."),
    template: str | None = typer.Option(None, "--template", help="An email template (name or id); its "
                                        "{{ survey.links }} and {{ survey.unsubscribe }} fill in."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count who would get one; send nothing."),
    batch: int = typer.Option(survey_nps.BATCH, "--batch", min=1, max=1000, help="Contacts per transaction."),
    as_json: output.Json = False,
) -> None:
    """Send an NPS survey (0-10 and a comment, with an unsubscribe link) to a list of contacts,
    through the email outbox: each contact at most once per run, do-not-email contacts and those
    without an address skipped. The emails go out with `crm workflows run` (or the app's timer).

    Periodic NPS: run `crm survey nps send --every quarter --view Customers` from cron (daily, say):
    the run is the quarter's, so each contact gets one a quarter, and a run cut short is finished
    by the next one. Stopped half-way, run the same command again: who has one is skipped."""
    from crm_tui.cli import refs
    from crm_tui.services import email_templates

    if (run is None) == (every is None):
        raise InvalidInput("give the run: --run KEY, or --every month|quarter|year")
    st = state(ctx)
    now = resolve_now(None)
    run_key = survey_nps.check_run_key(run) if run else survey_nps.period_key(every.strip().lower(), now)
    with st.read() as (session, actor):
        company_id = refs.company_id(session, company) if company else None
        conditions = survey_nps.segment(session, actor=actor, view=view, lifecycle=lifecycle,
                                        company_id=company_id, tag=tag, now=now)
        plan = survey_nps.plan(session, actor=actor, run_key=run_key, conditions=conditions)
        filled = None
        if template is not None:
            found = email_templates.find_template(session, ref=template, actor=actor)
            filled = (found.subject, found.body)
    skipped = {"already_in_run": plan.already, "do_not_email": plan.do_not_email, "no_email": plan.no_email}
    if dry_run:
        if as_json:
            output.emit_json({"run": run_key, "dry_run": True, "would_send": plan.to_send, **skipped})
        else:
            output.say(f"{run_key}: would send {plan.to_send} NPS survey(s); {_skips(plan)} (dry run: nothing sent)")
        return
    sent, after, errors = 0, 0, []
    while True:
        with st.write() as (session, actor):
            conditions = survey_nps.segment(session, actor=actor, view=view, lifecycle=lifecycle,
                                            company_id=company_id, tag=tag, now=now)
            done = survey_nps.send_batch(session, actor=actor, run_key=run_key, conditions=conditions,
                                         settings=st.settings, now=now, after=after, limit=batch, template=filled)
        sent, after, errors = sent + done.sent, done.after, errors + done.errors
        if done.done:
            break
    if as_json:
        output.emit_json({"run": run_key, "sent": sent, **skipped, "errors": errors})
        return
    output.say(f"{run_key}: {sent} NPS survey(s) queued; {_skips(plan)}; they go out with `crm workflows run`")
    for line in errors[:20]:
        output.error_line("skipped", line)


def _skips(plan: survey_nps.Plan) -> str:
    return (f"skipped {plan.already} already in the run, {plan.do_not_email} do not email, "
            f"{plan.no_email} without an address")
