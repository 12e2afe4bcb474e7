"""`crm case`: the service desk's cases: add, list (by queue), show (with its SLA and thread),
reply, note, assign, status, resolve, close, reopen, priority, link, merge, queues."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import typer
from sqlalchemy import select

from crm_tui.cli import output, refs
from crm_tui.cli.context import state
from crm_tui.cli.templates import read_body
from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput
from crm_tui.models.workflow import EmailOutbox
from crm_tui.models.case import CHANNELS, PRIORITIES, STATUS_LABELS, STATUSES
from crm_tui.services import cases, dates, email_templates, products, sla
from crm_tui.workflows.email import send_queued, smtp_settings

app = typer.Typer(name="case", help="Support cases: add, list, show, reply, note, assign, status, resolve, close, "
                  "reopen, merge.", no_args_is_help=True)

REF_HELP = "The case's number: 42 or #42."
VERSION_HELP = "The version you last saw; refuse the change if the case changed since."
QUEUE_HELP = f"The queue: {', '.join(cases.QUEUES)} (team needs --team)."


def _case_id(session, ref: str, actor) -> int:
    return cases.find_case(session, ref, actor=actor).id


def _deal_id(ref: str | None) -> int | None:
    if ref is None or not ref.strip():
        return None
    text = ref.strip().lstrip("#")
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"deal {ref!r}: give the deal's id (a number)")
    return int(text)


def _product_id(session, ref: str | None) -> int | None:
    if ref is None or not ref.strip():
        return None
    return products.pick_one(session, ref=ref).id


def _json(session, case) -> dict:
    out = cases.summary(case)
    out["number"] = f"#{case.id}"
    out["names"] = cases.names(session, case)
    return out


def _done(data: dict, what: str, as_json: bool) -> None:
    if as_json:
        output.emit_json(data)
        return
    status = STATUS_LABELS.get(data["status"], data["status"]).lower()
    output.say(f"{what} case #{data['id']} {data['subject']} ({status}, {data['priority']}; version {data['version']})")


@app.command("add")
def add(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help="What the case is about, in one line."),
    contact: str | None = typer.Option(None, "--contact", help="The customer: a contact's id or email."),
    company: str | None = typer.Option(None, "--company", help="The company: id, name or domain (else the contact's)."),
    deal: str | None = typer.Option(None, "--deal", help="A deal it is about (id)."),
    product: str | None = typer.Option(None, "--product", help="A product it is about (SKU or id)."),
    description: str | None = typer.Option(None, "--description", "-d", help="The details."),
    channel: str = typer.Option("phone", "--channel", help=f"How it came in: {', '.join(CHANNELS)}."),
    category: str | None = typer.Option(None, "--category", help="A category: billing, hardware, ..."),
    priority: str = typer.Option("normal", "--priority", "-p", help=f"{', '.join(PRIORITIES)}."),
    assignee: str | None = typer.Option(None, "--assignee", help="Give it to a teammate (login, email, id)."),
    team: str | None = typer.Option(None, "--team", help="The team's queue (else [support] team in config.toml)."),
    email: str | None = typer.Option(None, "--email", help="The address replies go to (else the contact's)."),
    as_json: output.Json = False,
) -> None:
    """Open a case: crm case add 'Printer on fire' --contact ada@acme.com --priority high."""
    st = state(ctx)
    with st.write() as (session, actor):
        case = cases.create_case(
            session, actor=actor, subject=subject, description=description or "",
            contact_id=refs.contact_id(session, contact), company_id=refs.company_id(session, company),
            deal_id=_deal_id(deal), product_id=_product_id(session, product), channel=channel, category=category,
            priority=priority, assignee_id=refs.user_id(session, assignee),
            team=team if team is not None else st.settings.support.team, from_addr=email)
        data = _json(session, case)
    _done(data, "opened", as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    queue: str = typer.Option("open", "--queue", "-q", help=QUEUE_HELP),
    team: str | None = typer.Option(None, "--team", help="Only this team's cases (the team queue's team)."),
    search: str | None = typer.Option(None, "--search", "-s",
                                      help="The number, or text in the subject or the customer's name or email."),
    status: str | None = typer.Option(None, "--status", help=f"Only this status: {', '.join(STATUSES)}."),
    priority: str | None = typer.Option(None, "--priority", help=f"Only this priority: {', '.join(PRIORITIES)}."),
    category: str | None = typer.Option(None, "--category", help="Only this category."),
    assignee: str | None = typer.Option(None, "--assignee", help="Only the cases of this teammate."),
    since: str | None = typer.Option(None, "--since", help="Only cases opened since: 2026-12-01, monday, -7d."),
    limit: output.Limit = 50,
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """List a queue of cases, newest first ("soon": the next SLA target first), a page at a time."""
    st = state(ctx)
    with st.read() as (session, actor):
        # a bare day means from the start of that day, in the user's zone
        since_at = (dates.parse_when(since, zone=st.zone, default_time=time(0, 0), order=actor.date_order)
                    if since is not None else None)
        page = cases.list_cases(session, actor=actor, queue=queue, team=team, search=search, status=status,
                                priority=priority, category=category, assignee_id=refs.user_id(session, assignee),
                                after=after, limit=limit, with_total=True,
                                soon_minutes=st.settings.support.soon_minutes, opened_since=since_at)
    if as_json:
        output.emit_page_json(page)
        return
    if not page.items:
        output.say(f"no cases in the {cases.QUEUE_LABELS.get(queue, queue).lower()} queue"
                   + (" matching that" if search or status or priority or category or assignee or since else ""))
        return
    output.table(["#", "Subject", "Status", "Priority", "Customer", "Assignee", "Team", "Opened", "SLA due"],
                 [(r.id, r.subject, r.status_label, r.priority, r.contact_name or r.company_name or "",
                   r.assignee_login, r.team, output.local_time(r.created_at, st.zone),
                   output.local_time(r.sla_next_at, st.zone)) for r in page.items])
    output.more_hint(page, shown=len(page.items))


@app.command("queues")
def queues(ctx: typer.Context, as_json: output.Json = False) -> None:
    """How many cases each queue holds now."""
    st = state(ctx)
    with st.read() as (session, actor):
        counts = cases.queue_counts(session, actor=actor, now=resolve_now(None),
                                    soon_minutes=st.settings.support.soon_minutes)
    if as_json:
        output.emit_json(counts)
        return
    output.table(["Queue", "Cases"], [(cases.QUEUE_LABELS.get(k, f"Team {k.removeprefix('team:')}"), n)
                                      for k, n in counts.items()])


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    limit: int = typer.Option(50, "--limit", help="How many thread entries to show."),
    as_json: output.Json = False,
) -> None:
    """Show a case: its fields, its SLA, and its thread (oldest first)."""
    st = state(ctx)
    now = resolve_now(None)
    with st.read() as (session, actor):
        case = cases.find_case(session, ref, actor=actor)
        data = _json(session, case)
        names = data["names"]
        sla_text = sla.describe(case, now=now)
        thread = cases.entries(session, case.id, actor=actor, limit=limit)
    if as_json:
        output.emit_json({**data, "sla": sla_text or None, "entries": thread.items,
                          "entries_next_cursor": thread.next_cursor})
        return
    z = st.zone
    c = data
    due = ", ".join(f"{what} due {output.local_time(when, z)}" for what, when in (
        ("first response", None if c["first_response_at"] else c["first_response_due_at"]),
        ("resolution", c["resolution_due_at"])) if when)
    output.details([
        ("Subject", c["subject"]), ("Status", STATUS_LABELS.get(c["status"], c["status"])),
        ("Priority", c["priority"]), ("Channel", c["channel"]), ("Category", c["category"]),
        ("Contact", names["contact"]), ("Company", names["company"]), ("Email", c["from_addr"]),
        ("Deal", f"#{c['deal_id']} {names['deal']}" if c["deal_id"] else None), ("Product", names["product"]),
        ("Assignee", names["assignee"]), ("Team", c["team"]),
        ("SLA", sla_text or due or None),
        ("Opened", output.local_time(c["created_at"], z)),
        ("First response", output.local_time(c["first_response_at"], z)),
        ("Resolved", output.local_time(c["resolved_at"], z)), ("Closed", output.local_time(c["closed_at"], z)),
        ("Merged into", f"#{c['merged_into_id']}" if c["merged_into_id"] else None),
        ("Version", c["version"]),
    ], title=f"Case #{c['id']}")
    if c["description"]:
        output.say("")
        output.say(c["description"])
    output.say("")
    if not thread.items:
        output.say("no entries yet: crm case reply / crm case note")
    for e in thread.items:
        who = e.author_login or e.contact_name or e.email_from or ("customer" if e.direction == "in" else "")
        kind = "note" if e.internal else ("from the customer" if e.direction == "in" else "to the customer")
        output.say(f"--- {output.local_time(e.created_at, z)} {who} ({kind})")
        output.say(e.body.rstrip("\n"))
    if thread.next_cursor:
        output.say(f"(more entries: crm case show {c['id']} --limit {limit * 2})")


@app.command("reply")
def reply(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    body: str | None = typer.Option(None, "--body", help="The reply."),
    body_file: Path | None = typer.Option(None, "--body-file", help="Read the reply from this file ('-': stdin)."),
    template: str | None = typer.Option(None, "--template", help="A canned reply: an email template (name or id)."),
    subject: str | None = typer.Option(None, "--subject", help="The subject (else Re: the thread's; [#id] is added)."),
    cc: list[str] = typer.Option([], "--cc", help="Copy to this address (repeatable, or comma-separated)."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Email the customer: threaded on the case's last email, logged on their timeline, sent through the outbox."""
    text = read_body(body, body_file)
    if text is None and template is None:
        raise InvalidInput("give --body, --body-file or --template")
    st = state(ctx)
    now = resolve_now(None)
    with st.write() as (session, actor):
        case_id = _case_id(session, ref, actor)
        template_id = email_templates.find_template(session, ref=template, actor=actor).id if template else None
        entry = cases.reply(session, case_id, actor=actor, body=text, subject=subject, template_id=template_id,
                            cc=tuple(cc), settings=st.settings, version=version, now=now)
        entry_id, email_id = entry.id, entry.email_id
    smtp = smtp_settings(st.settings)
    if smtp is None:
        state_ = "queued: email is off ([smtp] in config.toml); it goes out on a later run once it is set"
    else:
        report = send_queued(st.db, smtp, now=now)
        failed = dict(report.failed)
        outbox = _outbox_id(st, email_id)
        state_ = ("sent" if outbox in report.sent else f"refused by the mail server: {failed[outbox]}"
                  if outbox in failed else f"queued: {report.error or 'not sent yet'}; it goes out on a later run")
    if as_json:
        output.emit_json({"case_id": case_id, "entry_id": entry_id, "email_id": email_id, "state": state_})
        return
    output.say(f"replied on case #{case_id} (entry {entry_id}; {state_})")


def _outbox_id(st, email_id: int | None) -> int | None:
    with st.db.read() as session:
        return session.scalar(select(EmailOutbox.id).where(EmailOutbox.email_id == email_id))


@app.command("note")
def note(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    body: str | None = typer.Argument(None, help="The note (or --body-file)."),
    body_file: Path | None = typer.Option(None, "--body-file", help="Read the note from this file ('-': stdin)."),
    as_json: output.Json = False,
) -> None:
    """Add an internal note: the team sees it, the customer never does."""
    text = read_body(body, body_file)
    if text is None:
        raise InvalidInput("give the note's text (or --body-file)")
    with state(ctx).write() as (session, actor):
        case_id = _case_id(session, ref, actor)
        entry = cases.note(session, case_id, actor=actor, body=text)
        entry_id = entry.id
    if as_json:
        output.emit_json({"case_id": case_id, "entry_id": entry_id})
        return
    output.say(f"noted on case #{case_id} (entry {entry_id})")


@app.command("assign")
def assign(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    to: str | None = typer.Argument(None, help="The teammate (login, email, id); '' or --unassign for nobody."),
    team: str | None = typer.Option(None, "--team", help="Move it to this team's queue ('' for none)."),
    unassign: bool = typer.Option(False, "--unassign", help="Take it from its assignee."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Give a case to a teammate and/or a team's queue: crm case assign 42 sue --team Support."""
    if unassign and to:
        raise InvalidInput("give a teammate or --unassign, not both")
    if to is None and team is None and not unassign:
        raise InvalidInput("give a teammate, --unassign or --team")
    with state(ctx).write() as (session, actor):
        case_id = _case_id(session, ref, actor)
        assignee = None if unassign else (refs.user_id(session, to) if to is not None else cases.KEEP)
        case = cases.assign(session, case_id, actor=actor, assignee_id=assignee,
                            team=cases.KEEP if team is None else (team or None), version=version)
        data = _json(session, case)
    who = data["names"]["assignee"] or "nobody"
    if as_json:
        output.emit_json(data)
        return
    output.say(f"case #{case_id} is {who}'s" + (f", in the {data['team']} queue" if data["team"] else "")
               + f" (version {data['version']})")


def _status_command(name: str, doc: str):
    def command(
        ctx: typer.Context,
        ref: str = typer.Argument(..., help=REF_HELP),
        version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
        as_json: output.Json = False,
    ) -> None:
        st = state(ctx)
        with st.write() as (session, actor):
            case_id = _case_id(session, ref, actor)
            fn = {"resolve": cases.resolve, "close": cases.close, "reopen": cases.reopen}[name]
            case = fn(session, case_id, actor=actor, settings=st.settings, version=version)
            data = _json(session, case)
        _done(data, {"resolve": "resolved", "close": "closed", "reopen": "reopened"}[name], as_json)

    command.__doc__ = doc
    app.command(name)(command)


_status_command("resolve", "Resolve a case (its customer gets the satisfaction survey, when set up).")
_status_command("close", "Close a case.")
_status_command("reopen", "Put a resolved or closed case back in the backlog.")


@app.command("status")
def status_(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    status: str = typer.Argument(..., help=f"The new status: {', '.join(STATUSES)}."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Set a case's status (waiting pauses its SLA clock)."""
    st = state(ctx)
    with st.write() as (session, actor):
        case_id = _case_id(session, ref, actor)
        case = cases.set_status(session, case_id, status, actor=actor, settings=st.settings, version=version)
        data = _json(session, case)
    _done(data, "updated", as_json)


@app.command("priority")
def priority_(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    level: str = typer.Argument(..., help=f"{', '.join(PRIORITIES)}."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Change a case's priority (its SLA targets follow)."""
    with state(ctx).write() as (session, actor):
        case_id = _case_id(session, ref, actor)
        case = cases.set_priority(session, case_id, level, actor=actor, version=version)
        data = _json(session, case)
    _done(data, "updated", as_json)


@app.command("link")
def link(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    deal: str = typer.Option(..., "--deal", help="The deal (id); '' to unlink."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Link a case to a deal."""
    with state(ctx).write() as (session, actor):
        case_id = _case_id(session, ref, actor)
        case = cases.link_deal(session, case_id, _deal_id(deal), actor=actor, version=version)
        data = _json(session, case)
    if as_json:
        output.emit_json(data)
        return
    deal_text = f"deal #{data['deal_id']} {data['names']['deal']}" if data["deal_id"] else "no deal"
    output.say(f"case #{case_id} is linked to {deal_text} (version {data['version']})")


@app.command("merge")
def merge_(
    ctx: typer.Context,
    keep: str = typer.Argument(..., help="The case that stays."),
    other: str = typer.Argument(..., help="The case merged into it (its thread moves; it is closed)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: output.Json = False,
) -> None:
    """Merge a case into another: crm case merge 41 42 moves #42's thread to #41 and closes #42."""
    st = state(ctx)
    with st.read() as (session, actor):
        keep_case, other_case = cases.find_case(session, keep, actor=actor), cases.find_case(session, other, actor=actor)
        plan = (keep_case.id, keep_case.version, keep_case.subject, other_case.id, other_case.version,
                other_case.subject)
    if not yes and not typer.confirm(
            f"merge #{plan[3]} {plan[5]!r} into #{plan[0]} {plan[2]!r}? #{plan[3]} is closed", default=False):
        raise typer.Exit(1)
    with st.write() as (session, actor):
        case = cases.merge_cases(session, keep_id=plan[0], merge_id=plan[3], actor=actor, keep_version=plan[1],
                                 merge_version=plan[4])
        data = _json(session, case)
    if as_json:
        output.emit_json(data)
        return
    output.say(f"merged case #{plan[3]} into #{plan[0]} (version {data['version']})")
