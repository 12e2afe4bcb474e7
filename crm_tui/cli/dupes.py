"""`crm contact dupes|merge|not-dupe` and the same for companies: list likely duplicates, merge two
records into one, choosing the value kept for each field that differs, or mark a pair as not one."""

from __future__ import annotations

import sys

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.services import companies, contacts, dedupe, merge

MIN_SCORE_HELP = "How alike two names must be, 50-100 (emails, phones and domains match exactly)."
KEEP_HELP = "field=a or field=b: whose value to keep where they differ (repeatable; a by default)."
ASK_HELP = "Ask for each field that differs (the default on a terminal)."


def _dupes(ctx: typer.Context, kind: str, min_score: int, limit: int, archived: bool, as_json: bool,
           dismissed: bool = False) -> None:
    if dismissed:
        _dismissed(ctx, kind, as_json)
        return
    with state(ctx).read() as (session, _actor):
        scan = dedupe.find_duplicates(session, kind=kind, min_score=min_score, include_archived=archived)
    shown = scan.pairs[:limit]
    if as_json:
        output.emit_json({"pairs": [dedupe.pair_json(p) for p in shown], "total": len(scan.pairs),
                          "truncated": scan.truncated})
        return
    if not scan.pairs:
        output.say(f"no likely duplicate {'companies' if kind == 'company' else 'contacts'}")
        return
    output.table(["A", "Name", "B", "Name", "Score", "Why", "Shared"],
                 [(p.a_id, p.a_label, p.b_id, p.b_label, p.score, p.why, p.shared) for p in shown])
    more = "+" if scan.truncated else ""
    output.say(f"{len(scan.pairs):,}{more} pairs, {len(shown):,} shown; merge one with "
               f"`crm {kind} merge A B` (B goes into A), or leave it out with `crm {kind} not-dupe A B`")


def _dismissed(ctx: typer.Context, kind: str, as_json: bool) -> None:
    with state(ctx).read() as (session, _actor):
        pairs = dedupe.list_dismissals(session, kind=kind)
    if as_json:
        output.emit_json({"dismissed": pairs})
        return
    if not pairs:
        output.say(f"no {kind} pairs are marked as not duplicates")
        return
    output.table(["A", "Name", "B", "Name", "By", "At"],
                 [(d.a_id, d.a_label, d.b_id, d.b_label, d.by, d.at) for d in pairs],
                 title="Not duplicates")
    output.say(f"show a pair again with `crm {kind} not-dupe A B --undo`")


def _not_dupe(ctx: typer.Context, kind: str, a: str, b: str, undo: bool, as_json: bool) -> None:
    with state(ctx).write() as (session, actor):
        a_id, b_id = _resolve(session, kind, a), _resolve(session, kind, b)
        call = dedupe.restore_pair if undo else dedupe.dismiss_pair
        result = call(session, kind=kind, a_id=a_id, b_id=b_id, actor=actor)
    if as_json:
        output.emit_json(result)
        return
    pair = f"{kind} #{result.a_id} {result.a_label!r} and #{result.b_id} {result.b_label!r}"
    if undo:
        output.say(f"{pair} may show as duplicates again")
    elif result.created:
        output.say(f"{pair} are not duplicates: `crm {kind} dupes` leaves them out, for everyone")
    else:
        output.say(f"{pair} were already marked as not duplicates (by {result.by})")


def _not_dupe_command(kind: str, ref_help: str):
    def command(
        ctx: typer.Context,
        a: str = typer.Argument(..., help=ref_help),
        b: str = typer.Argument(..., help=ref_help),
        undo: bool = typer.Option(False, "--undo", help="Let the pair show as duplicates again."),
        as_json: output.Json = False,
    ) -> None:
        _not_dupe(ctx, kind, a, b, undo, as_json)

    command.__doc__ = (f"Mark two {'companies' if kind == 'company' else 'contacts'} as not duplicates: "
                       f"`crm {kind} dupes` and the app leave the pair out, for everyone.")
    return command


contact_not_dupe = _not_dupe_command("contact", "A contact (id or email).")
company_not_dupe = _not_dupe_command("company", "A company (id, name or domain).")
DISMISSED_HELP = "List the pairs marked as not duplicates instead (undo one with not-dupe A B --undo)."


def contact_dupes(
    ctx: typer.Context,
    min_score: int = typer.Option(dedupe.DEFAULT_MIN_SCORE, "--min-score", help=MIN_SCORE_HELP),
    limit: int = typer.Option(50, "--limit", help="How many pairs to show, best first."),
    archived: bool = typer.Option(False, "--archived", help="Include archived contacts."),
    dismissed: bool = typer.Option(False, "--dismissed", help=DISMISSED_HELP),
    as_json: output.Json = False,
) -> None:
    """List likely duplicate contacts: the same email, the same phone and a like name, or similar names at
    one company (never two different emails); pairs marked not duplicates are left out."""
    _dupes(ctx, "contact", min_score, limit, archived, as_json, dismissed)


def company_dupes(
    ctx: typer.Context,
    min_score: int = typer.Option(dedupe.DEFAULT_MIN_SCORE, "--min-score", help=MIN_SCORE_HELP),
    limit: int = typer.Option(50, "--limit", help="How many pairs to show, best first."),
    archived: bool = typer.Option(False, "--archived", help="Include archived companies."),
    dismissed: bool = typer.Option(False, "--dismissed", help=DISMISSED_HELP),
    as_json: output.Json = False,
) -> None:
    """List likely duplicate companies: the same domain, or similar names; pairs marked not duplicates are left out."""
    _dupes(ctx, "company", min_score, limit, archived, as_json, dismissed)


def _resolve(session, kind: str, ref: str) -> int:
    return contacts.find_contact(session, ref).id if kind == "contact" else companies.resolve_company(session, ref).id


def _show_plan(plan: merge.MergePlan) -> None:
    output.say(f"merge {plan.kind} #{plan.b_id} {plan.b_label!r} (b) into #{plan.a_id} {plan.a_label!r} (a)")
    if plan.conflicts:
        output.table(["Field", "a", "b"], [(c.name, c.a, c.b) for c in plan.conflicts], title="Fields that differ")
    if plan.filled:
        output.table(["Field", "from b"], list(plan.filled.items()), title="Taken from b (empty in a)")
    moves = ", ".join(f"{n} {name.split('.')[0]}" for name, n in plan.moves.items()) or "nothing"
    output.say(f"moves to a: {moves}")


def _merge(ctx: typer.Context, kind: str, a: str, b: str, keep: list[str], ask: bool | None, yes: bool,
           dry_run: bool, a_version: int | None, b_version: int | None, as_json: bool) -> None:
    st = state(ctx)
    choices = merge.parse_keep(keep)
    with st.read() as (session, _actor):
        a_id, b_id = _resolve(session, kind, a), _resolve(session, kind, b)
        plan = merge.plan_merge(session, kind=kind, a_id=a_id, b_id=b_id)
    interactive = sys.stdin.isatty() if ask is None else ask
    if not as_json:
        _show_plan(plan)
    if dry_run:
        if as_json:
            output.emit_json(plan)
        return
    if interactive:
        for c in plan.conflicts:
            if c.name not in choices:
                choices[c.name] = _ask_side(c)
        if not yes and not typer.confirm(f"merge #{plan.b_id} into #{plan.a_id}? #{plan.b_id} goes", default=False):
            raise typer.Exit(1)
    with st.write() as (session, actor):
        # the versions shown above, unless given: what changed since is refused, not overwritten
        result = merge.merge_records(session, kind=kind, a_id=plan.a_id, b_id=plan.b_id, keep=choices, actor=actor,
                                     a_version=a_version if a_version is not None else plan.a_version,
                                     b_version=b_version if b_version is not None else plan.b_version)
    if as_json:
        output.emit_json(result)
        return
    moved = sum(result.moved.values())
    output.say(f"merged {kind} #{result.merged_id} into #{result.survivor_id} {result.label} "
               f"({moved} related rows moved; version {result.version})")


def _ask_side(conflict: merge.FieldConflict) -> str:
    while True:
        # click writes the prompt itself, past the console: its people's text is made printable here
        question = output.printable(f"{conflict.label}: keep a ({conflict.a}) or b ({conflict.b})?")
        side = str(typer.prompt(question, default="a"))
        if side.strip().lower() in ("a", "b"):
            return side.strip().lower()
        output.say("answer a or b")


def _merge_command(kind: str, *, a_help: str, b_help: str, doc: str):
    """The `merge A B` command for contacts or companies (the same options, its own help)."""

    def command(
        ctx: typer.Context,
        a: str = typer.Argument(..., help=a_help),
        b: str = typer.Argument(..., help=b_help),
        keep: list[str] = typer.Option([], "--keep", "-k", help=KEEP_HELP),
        ask: bool | None = typer.Option(None, "--ask/--no-ask", help=ASK_HELP),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what would happen; change nothing."),
        a_version: int | None = typer.Option(None, "--a-version", help="Refuse if a changed since this version."),
        b_version: int | None = typer.Option(None, "--b-version", help="Refuse if b changed since this version."),
        as_json: output.Json = False,
    ) -> None:
        _merge(ctx, kind, a, b, keep, ask, yes, dry_run, a_version, b_version, as_json)

    command.__doc__ = doc
    return command


contact_merge = _merge_command(
    "contact", a_help="The contact that stays (id or email).",
    b_help="The contact merged into it, then removed (id or email).",
    doc="Merge contact B into contact A: B's activities, deals, tasks, tags, emails and phones move to A.")
company_merge = _merge_command(
    "company", a_help="The company that stays (id, name or domain).",
    b_help="The company merged into it, then removed.",
    doc="Merge company B into company A: B's contacts, deals, activities and tasks move to A.")
