"""`crm mail`: capture mail to the timeline. `sync` reads your IMAP mailbox (or, `--team`, the
team's BCC box), for cron; `ingest` reads files, an mbox, a Maildir or a pipe (mutt, aerc);
`triage` deals with the addresses that matched no contact; `log` shows what could not be read;
`thread` shows an email's conversation."""

from __future__ import annotations

import sys

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.clock import resolve_now
from crm_tui.errors import CrmError, InvalidInput

app = typer.Typer(name="mail", no_args_is_help=True,
                  help="Mail to the timeline: sync (IMAP), ingest (files, a pipe), triage, log, thread.")
triage_app = typer.Typer(name="triage", invoke_without_command=True,
                         help="Addresses of captured mail that matched no contact: list them, or make, "
                              "link or ignore one.")
app.add_typer(triage_app)


def _max_bytes(settings) -> int:
    mail = settings.mail
    return int((mail.max_message_mb if mail else 25.0) * 1_000_000)


def _extra(settings) -> tuple[str, ...]:
    return settings.mail.addresses if settings.mail else ()


def _report(report, *, as_json: bool, what: str) -> None:
    if as_json:
        output.emit_json(report)
        return
    for line in report.errors:
        output.error_line("skipped", line)
    for line in report.warnings:
        output.error_line("note", line)
    output.say(f"{what}: {report.summary()}")


def _send_acknowledgements(st, queued: int) -> None:
    """New cases' acknowledgements go at once when [smtp] is set (else with the next `crm workflows
    run`, which sends the outbox); a failure leaves them queued for that run."""
    if not queued:
        return
    from crm_tui.workflows.email import send_queued, smtp_settings

    try:
        smtp = smtp_settings(st.settings)
    except CrmError as exc:
        output.error_line("note", f"case acknowledgements wait in the outbox: {exc.message}")
        return
    if smtp is None:
        output.error_line("note", f"{queued} case acknowledgement(s) queued: [smtp] is not set, so they wait "
                                  "in the outbox")
        return
    report = send_queued(st.db, smtp, now=resolve_now(None))
    if report.error:
        output.error_line("note", f"case acknowledgements wait in the outbox: {report.error}")


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    files: list[str] = typer.Argument(None, help="RFC 822 files (.eml), mbox files or Maildir folders; "
                                                 "- (or nothing) reads one message or an mbox from stdin."),
    as_json: output.Json = False,
) -> None:
    """Put messages on the timeline of the contacts they are from, to or copied to.

    From mutt: macro index,pager L "<pipe-message>crm mail ingest -<enter>". Mail that matches no
    contact waits in `crm mail triage`. A message that cannot be read is named and skipped."""
    from crm_tui.services.mail_capture import run, sources

    st = state(ctx)
    max_bytes = _max_bytes(st.settings)
    names = [f for f in files or [] if f != "-"]
    if names and len(names) != len(files or []):
        raise InvalidInput("give files, or - for stdin, not both")
    if names:
        raws = sources.read_paths(sources.check_paths(names), max_bytes=max_bytes)
    elif sys.stdin.isatty():
        raise InvalidInput("pipe a message in (crm mail ingest - < message.eml), or name files")
    else:
        raws = sources.read_stream(sys.stdin.buffer, max_bytes=max_bytes)
    report = run.ingest(st.db, raws, actor=st.actor, extra_addresses=_extra(st.settings), settings=st.settings)
    _send_acknowledgements(st, report.acknowledged)
    _report(report, as_json=as_json, what="ingested")


@app.command("sync")
def sync(
    ctx: typer.Context,
    team: bool = typer.Option(False, "--team", help="Read the team's shared BCC mailbox ([mail.team]) "
                                                    "instead of yours ([mail.imap])."),
    insecure: bool = typer.Option(False, "--insecure", help="Without TLS: allowed only to a server on this "
                                                            "machine (loopback)."),
    as_json: output.Json = False,
) -> None:
    """Read the Inbox and Sent folders' new mail over IMAP, for cron or a systemd timer.

    Incremental: each folder from the last message read. Exits 1 if the mailbox could not be read."""
    from crm_tui.services.mail_capture import imap, run

    st = state(ctx)
    mail = st.settings.mail
    config = (mail.team if team else mail.imap) if mail else None
    account = imap.account_from(config, what="mail.team" if team else "mail.imap", insecure=insecure)
    report = run.sync(st.db, account, actor=st.actor, team=team, extra_addresses=_extra(st.settings),
                      max_bytes=_max_bytes(st.settings), settings=st.settings)
    _send_acknowledgements(st, report.total.acknowledged)
    if as_json:
        output.emit_json(report)
    else:
        total = report.total
        for line in total.errors:
            output.error_line("skipped", line)
        for line in total.warnings:
            output.error_line("note", line)
        for folder in report.folders:
            again = " (renumbered by the server: read again)" if folder.reset else ""
            output.say(f"{folder.folder}: {folder.capture.summary()}{again}")
        if report.error:
            output.error_line("error", report.error)
    if report.error:
        raise typer.Exit(1)


@app.command("log")
def log(ctx: typer.Context, limit: output.Limit = 50, as_json: output.Json = False) -> None:
    """Messages that could not be read whole (or at all), newest first."""
    from crm_tui.services.mail_capture import capture

    st = state(ctx)
    with st.read() as (session, _actor):
        rows = capture.sync_log(session, limit=limit)
    if as_json:
        output.emit_json([r._asdict() for r in rows])
        return
    output.table(["When", "Level", "Where", "Message-ID", "What"],
                 [(output.local_time(r.at, st.zone), r.level, " ".join(filter(None, [r.folder, r.uid and f"UID {r.uid}"])),
                   r.message_id or "", r.error) for r in rows])


def _size(size: object) -> str:
    n = size if isinstance(size, int) else 0
    return f"{n / 1_000_000:.1f} MB" if n >= 1_000_000 else f"{max(1, round(n / 1000))} kB"


@app.command("thread")
def thread(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="ACTIVITY_OR_EMAIL_ID",
                              help="An email activity's id (as timelines show it), an email's id as email:45, "
                                   "or a Message-ID."),
    limit: output.Limit = 20,
    before: str | None = typer.Option(None, "--before", metavar="CURSOR", help="Older messages, before this cursor."),
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """An email's conversation, oldest first: each message's date, from, to, subject and text.

    Shows the thread's latest messages (--limit); --before reaches older ones. Only the messages
    you may see: those on a timeline, and your own mail that matched no contact."""
    from crm_tui.services import mail_thread

    st = state(ctx)
    with st.read() as (session, actor):
        email_id = mail_thread.resolve(session, ref=ref)
        page = mail_thread.thread_page(session, email_id=email_id, actor=actor, limit=limit,
                                       before=before if before is not None else mail_thread.END, after=after)
    if as_json:
        output.emit_json({"email_id": email_id, "items": page.items, "older_cursor": page.prev_cursor,
                          "newer_cursor": page.next_cursor})
        return
    if page.prev_cursor:
        output.say(f"older messages: repeat with --before {page.prev_cursor}")
    for m in page.items:
        mark = "→" if m.direction == "out" else "←"
        output.say(f"── {output.local_time(m.sent_at, st.zone)} {mark} email:{m.email_id}")
        output.say(f"From:    {m.from_addr}")
        output.say(f"To:      {', '.join(m.to_addrs)}")
        if m.cc_addrs:
            output.say(f"Cc:      {', '.join(m.cc_addrs)}")
        output.say(f"Subject: {m.subject}")
        if m.attachments:
            output.say("Files:   " + ", ".join(f"{a.get('name') or '(unnamed)'} ({_size(a.get('size'))})"
                                               for a in m.attachments))
        output.say("")
        output.say((m.body or "(no text)").rstrip())
        output.say("")
    if page.next_cursor:
        output.say(f"newer messages: repeat with --after {page.next_cursor}")


@triage_app.callback()
def triage(ctx: typer.Context, after: output.After = None, limit: output.Limit = 50,
           as_json: output.Json = False) -> None:
    """The addresses waiting: make one a contact (`lead`, `contact`), `link` it, or `ignore` it."""
    if ctx.invoked_subcommand is not None:
        return
    from crm_tui.services.mail_capture import triage as service

    st = state(ctx)
    with st.read() as (session, _actor):
        page = service.triage_page(session, after=after, limit=limit)
    if as_json:
        output.emit_page_json(page)
        return
    if not page.items and after is None:
        output.say("Triage is empty: every captured message matched a contact.")
        return
    output.table(["Address", "Name", "Messages", "Last", "Subject"],
                 [(r.address, r.name, r.messages, output.local_time(r.last_at, st.zone), r.last_subject)
                  for r in page.items])
    output.more_hint(page, shown=len(page.items))


def _make(ctx: typer.Context, address: str, lifecycle: str) -> None:
    from crm_tui.services.mail_capture import triage as service

    with state(ctx).write() as (session, actor):
        contact_id, linked = service.create_contact(session, address=address, actor=actor, lifecycle=lifecycle)
    output.say(f"added contact #{contact_id} ({address}, {lifecycle}); {linked} message(s) on its timeline")


@triage_app.command("lead")
def lead(ctx: typer.Context, address: str = typer.Argument(..., help="The address in Triage.")) -> None:
    """Add the address as a lead (named as its mail gave), with its mail on the timeline."""
    _make(ctx, address, "lead")


@triage_app.command("contact")
def contact(ctx: typer.Context, address: str = typer.Argument(..., help="The address in Triage."),
            lifecycle: str = typer.Option("prospect", "--lifecycle", help="lead, prospect, customer or former.")) -> None:
    """Add the address as a contact (a prospect unless --lifecycle says), with its mail on the timeline."""
    _make(ctx, address, lifecycle)


@triage_app.command("link")
def link(ctx: typer.Context, address: str = typer.Argument(..., help="The address in Triage."),
         to: str = typer.Argument(..., help="The contact: id, email or name.")) -> None:
    """Make the address one of an existing contact's, with its mail on their timeline."""
    from crm_tui.services import contacts
    from crm_tui.services.mail_capture import triage as service

    with state(ctx).write() as (session, actor):
        found = contacts.find_contact(session, to)
        linked = service.link_contact(session, address=address, contact_id=found.id, actor=actor)
    output.say(f"{address} is now one of #{found.id} {found.full_name}'s emails; {linked} message(s) linked")


@triage_app.command("ignore")
def ignore(ctx: typer.Context,
           value: str = typer.Argument(..., help="An address, or a domain as @example.com."),
           domain: bool = typer.Option(False, "--domain", help="Ignore the address's whole domain.")) -> None:
    """Never triage this address's (or domain's) mail again; its waiting lines go."""
    from crm_tui.services.mail_capture import triage as service

    with state(ctx).write() as (session, actor):
        gone = service.ignore(session, value=value, domain=domain, actor=actor)
    output.say(f"ignoring {value}; {gone} address(es) left Triage")


@triage_app.command("unignore")
def unignore(ctx: typer.Context, value: str = typer.Argument(..., help="An address, or a domain as @example.com.")) -> None:
    """Take an address or domain off the ignore list."""
    from crm_tui.services.mail_capture import triage as service

    with state(ctx).write() as (session, actor):
        if not service.unignore(session, value=value, actor=actor):
            raise InvalidInput(f"{value} is not on the ignore list")
    output.say(f"no longer ignoring {value}")


@triage_app.command("ignored")
def ignored(ctx: typer.Context, as_json: output.Json = False) -> None:
    """The ignore list."""
    from crm_tui.services.mail_capture import triage as service

    st = state(ctx)
    with st.read() as (session, _actor):
        rows = service.ignore_list(session)
    if as_json:
        output.emit_json([r._asdict() for r in rows])
        return
    output.table(["Kind", "Value", "By", "When"],
                 [(r.kind, r.value, r.by, output.local_time(r.at, st.zone)) for r in rows])

