"""`crm workflows`: run the team's rules (for cron), a dry run, list, validate and publish them,
the run log. The rules that run are the ones an admin published (workflows/published.py); a
rules file is a draft until then."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crm_tui.cli import output
from crm_tui.cli.context import CliState, state
from crm_tui.clock import get_zone
from crm_tui.errors import InvalidInput
from crm_tui.services import permissions
from crm_tui.services import workflows as workflow_service
from crm_tui.workflows import rules as rule_files

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crm_tui.workflows.published import Published

app = typer.Typer(name="workflows",
                  help="Workflow rules: run, check (dry run), list, log, validate, publish, init, edit.",
                  no_args_is_help=True)

FILE_HELP = "The rules file (default: workflows.toml in the config dir)."
DRAFT_HELP = "A rules file to use instead of the team's published rules."
NOTHING_PUBLISHED = "no rules are published yet: an admin runs `crm workflows publish` (see `crm workflows init`)"


def _rules(session: Session, path: Path | None) -> tuple[rule_files.RuleSet, Published | None]:
    """A rules file's rules when `path` is given, else the team's published rules and which
    publish they are (None before anything was published)."""
    from crm_tui.workflows import published

    if path is not None:
        return rule_files.load_rules(path), None
    return published.rules_in_force(session)


def _warn(errors) -> None:
    for error in errors:
        output.error_line("warning", str(error))


def _engine_args(st: CliState) -> dict:
    from crm_tui.workflows.email import smtp_settings

    from crm_tui.config import team_timezone

    return {"zone": get_zone(st.settings.timezone), "smtp": smtp_settings(st.settings),
            "team_zone": get_zone(team_timezone(st.settings))}


@app.command("run")
def run(
    ctx: typer.Context,
    rule: str | None = typer.Option(None, "--rule", help="Run only this rule."),
    file: Path | None = typer.Option(None, "--file", help=DRAFT_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would fire; change nothing (= check)."),
    as_json: output.Json = False,
) -> None:
    """Run the team's published rules once, for cron or a systemd timer.

    Exits 1 if a rule or a firing failed. --file runs a rules file instead (needs the right to
    change the rules)."""
    if dry_run:
        return check(ctx, rule=rule, file=file, as_json=as_json)
    from crm_tui.workflows import runner

    st = state(ctx)
    with st.read() as (session, actor):  # a login that may not sign in may not run the engine either
        if file is not None:
            # a file's rules would act as the system actor: only someone who may change the rules
            permissions.require(session, actor, "workflow.admin")
        rules, _ = _rules(session, file)
    if file is None and not rules.rules and not as_json:
        output.say(NOTHING_PUBLISHED)
    report = runner.run(st.db, rules=rules, runner=f"{actor.label}@{socket.gethostname()}", only=rule,
                        **_engine_args(st))
    if as_json:
        output.emit_json({"fired": report.fired, "failed": report.failed, "skipped": report.skipped,
                          "rule_errors": [str(e) for e in report.rule_errors], "email": report.email,
                          "sequences": report.sequences})
    else:
        _warn(report.rule_errors)
        for item in report.fired:
            output.say(f"{item.rule}: {item.label} — {'; '.join(item.actions) or 'nothing to do'}")
        for item in report.failed:
            output.error_line("failed", f"{item.rule}: {item.label}: {item.error}")
        summary = f"fired {len(report.fired)}, failed {len(report.failed)}"
        if report.skipped:
            summary += f", {report.skipped} already fired elsewhere"
        if report.sequences is not None:
            for error in report.sequences.errors:
                output.error_line("failed", error)
            if report.sequences.rows or report.sequences.stopped or report.sequences.finished:
                summary += f"; sequences: {report.sequences.summary()}"
        if report.email is not None:
            summary += f"; email: sent {len(report.email.sent)}, waiting {report.email.deferred}"
            if report.email.error:
                output.error_line("warning", report.email.error)
        output.say(summary)
    if not report.ok:
        raise typer.Exit(1)


@app.command("check")
def check(
    ctx: typer.Context,
    rule: str | None = typer.Option(None, "--rule", help="Check only this rule."),
    file: Path | None = typer.Option(None, "--file", help=DRAFT_HELP),
    as_json: output.Json = False,
) -> None:
    """A dry run: what would fire now, why, and what it would do (emails shown, not sent).

    --file checks a draft rules file before it is published."""
    from crm_tui.workflows import runner

    st = state(ctx)
    with st.read() as (session, _actor):
        rules, _ = _rules(session, file)
    if file is None and not rules.rules and not as_json:
        output.say(NOTHING_PUBLISHED)
    report = runner.run(st.db, rules=rules, dry_run=True, only=rule, **_engine_args(st))
    if as_json:
        output.emit_json({"would_fire": report.previews, "more": report.more,
                          "rule_errors": [str(e) for e in report.rule_errors]})
        return
    _warn(report.rule_errors)
    for item in report.previews:
        output.say(f"{item.rule}: {item.label} — {item.why}")
        for line in item.actions:
            output.say(f"  → {line}")
        if item.error:
            output.say(f"  ! {item.error}")
    for name, more in report.more.items():
        output.say(f"{name}: … and {more} more")
    total = len(report.previews) + sum(report.more.values())
    output.say(f"{total} would fire now" if total else "nothing would fire now")


@app.command("list")
def list_(
    ctx: typer.Context,
    file: Path | None = typer.Option(None, "--file", help=DRAFT_HELP),
    as_json: output.Json = False,
) -> None:
    """The team's published rules (or a rules file's), and any that have errors."""
    st = state(ctx)
    with st.read() as (session, _actor):
        rules, about = _rules(session, file)
    if as_json:
        output.emit_json({"file": str(file) if file else None, "published": about and {
            "id": about.id, "digest": about.digest, "by": about.published_by, "at": about.published_at}, "rules": [{
            "name": r.name, "line": r.line, "enabled": r.enabled, "trigger": r.trigger.describe(),
            "conditions": [c.describe() for c in r.conditions], "actions": [a.describe() for a in r.actions],
        } for r in rules.rules], "errors": [str(e) for e in rules.errors]})
        return
    if not rules.rules and not rules.errors:
        output.say(f"no rules in {file}; `crm workflows init` copies the example there" if file else NOTHING_PUBLISHED)
        return
    title = str(file) if file else (
        f"{about.label}, by {about.published_by} on {output.local_time(about.published_at, st.zone)}")
    output.table(["Rule", "Trigger", "Conditions", "Actions", "On"],
                 [(r.name, r.trigger.describe(), "\n".join(c.describe() for c in r.conditions),
                   "\n".join(a.describe() for a in r.actions), "yes" if r.enabled else "no") for r in rules.rules],
                 title=title)
    _warn(rules.errors)


@app.command("validate")
def validate(
    ctx: typer.Context,
    file: Path | None = typer.Option(None, "--file", help=FILE_HELP),
) -> None:
    """Check the rules file, and that the stages, users and roles it names exist here."""
    from crm_tui.workflows.checks import check_references

    st = state(ctx)
    path = file or rule_files.rules_path(st.settings)
    if not path.exists():
        raise InvalidInput(f"no rules file at {path}; `crm workflows init` copies the example there")
    rules = rule_files.load_rules(path)
    with st.db.read() as session:
        errors = [*rules.errors, *check_references(session, rules)]
    for error in errors:
        output.error_line("error", str(error))
    if errors:
        raise typer.Exit(2)
    output.say(f"{path}: {len(rules.rules)} rules, all valid; `crm workflows publish` makes them the team's")


@app.command("publish")
def publish(
    ctx: typer.Context,
    file: Path | None = typer.Option(None, "--file", help=FILE_HELP),
) -> None:
    """Make a rules file the team's rules (needs the right to change the rules).

    Every teammate's app and `crm workflows run` run them from the next tick. Refused, publishing
    nothing, if a rule is not valid here."""
    from crm_tui.workflows import published

    st = state(ctx)
    path = file or rule_files.rules_path(st.settings)
    if not path.exists():
        raise InvalidInput(f"no rules file at {path}; `crm workflows init` copies the example there")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    with st.write() as (session, actor):
        found, changed = published.publish(session, text=text, actor=actor, source=str(path))
    if changed:
        output.say(f"published {found.rule_count} rules from {path} as {found.label}")
    else:
        output.say(f"{path} is already the team's rules ({found.label}); nothing to publish")


@app.command("init")
def init(
    ctx: typer.Context,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing rules file."),
) -> None:
    """Copy the example rules into the config dir, to edit from there."""
    st = state(ctx)
    with st.read() as (session, actor):
        permissions.require(session, actor, "workflow.admin")
    path = rule_files.rules_path(st.settings)
    if path.exists() and not force:
        raise InvalidInput(f"{path} exists already; add --force to replace it with the example")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rule_files.example_text(), encoding="utf-8")
    output.say(f"wrote the example rules to {path}; see what they would do with "
               f"`crm workflows check --file {path}`, then `crm workflows publish`")


@app.command("edit")
def edit(ctx: typer.Context) -> None:
    """Open the rules file in $EDITOR, then validate it and, if it is valid, publish it."""
    st = state(ctx)
    with st.read() as (session, actor):
        permissions.require(session, actor, "workflow.admin")
    path = rule_files.rules_path(st.settings)
    if not path.exists():
        raise InvalidInput(f"no rules file at {path}; `crm workflows init` copies the example there")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or shutil.which("nano") or "vi"
    subprocess.run([*editor.split(), str(path)], check=False)
    validate(ctx, file=path)
    publish(ctx, file=path)


@app.command("log")
def log(
    ctx: typer.Context,
    rule: str | None = typer.Option(None, "--rule", help="Only this rule's firings."),
    errors: bool = typer.Option(False, "--errors", help="Only the firings that failed."),
    limit: int = typer.Option(30, "--limit", help="How many to show."),
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """The recent firings: rule, record, when, what was done, and errors."""
    st = state(ctx)
    with st.read() as (session, _actor):
        page = workflow_service.list_firings(session, rule=rule, status="error" if errors else None, after=after,
                                             limit=limit)
    if as_json:
        output.emit_page_json(page)
        return
    output.table(["When", "Rule", "Record", "Status", "Done / error"],
                 [(output.local_time(f.fired_at, st.zone), f.rule, f"{f.entity} #{f.entity_id}",
                   f.status + (f" ({f.attempts} tries)" if f.attempts > 1 else ""),
                   f.error if f.status == "error" else "\n".join(f.actions)) for f in page.items])
    output.more_hint(page, shown=len(page.items))


@app.command("outbox")
def outbox(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help="queued, sending, sent or failed."),
    limit: int = typer.Option(30, "--limit", help="How many to show."),
    as_json: output.Json = False,
) -> None:
    """Emails the rules and people sent or are waiting to send."""
    st = state(ctx)
    with st.read() as (session, _actor):
        emails = workflow_service.list_outbox(session, status=status, limit=limit)
    if as_json:
        output.emit_json([{"id": e.id, "status": e.status, "to": e.to_addr, "subject": e.subject,
                           "attempts": e.attempts, "error": e.last_error, "rule": e.rule,
                           "created_at": e.created_at, "sent_at": e.sent_at} for e in emails])
        return
    output.table(["ID", "Status", "To", "Subject", "Tries", "Error"],
                 [(e.id, e.status, e.to_addr, e.subject, e.attempts, e.last_error) for e in emails])
