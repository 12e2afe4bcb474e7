"""`crm contact`: add, list, show, edit, archive and tag contacts."""

from __future__ import annotations

import typer

from crm_tui.cli import bulk, output, refs
from crm_tui.cli.archiving import add_archive_commands
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput
from crm_tui.services import activities, contacts, fields

app = typer.Typer(name="contact", help="People: add, list, show, edit, archive, tag.", no_args_is_help=True)

REF_HELP = "Contact id or email."
CREATE_COMPANY_HELP = "Add the company named by --company when none has that name."
ALLOW_DUPLICATE_HELP = "Add it even when a contact already has one of its emails."
VERSION_HELP = "The version you last saw; refuse the change if the contact changed since."
ADDRESS_HELP = "Postal address, on one line."
BIRTHDAY_HELP = "Birthday as YYYY-MM-DD."
SOCIAL_HELP = "Social profile URL, e.g. linkedin.com/in/ada (repeat for more)."
DESCRIPTION_HELP = "Who they are, what they want: free text."
DO_NOT_EMAIL_HELP = ("--do-not-email: never send them sequence or bulk mail (a person may still write to "
                     "them); --email-ok lifts it.")


def _parse_fields(pairs: list[str]) -> dict:
    """--field key=value pairs, as a custom-field dict ("key=" clears one)."""
    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInput(f"invalid field {pair!r}: use name=value")
        out[key.strip()] = value if value != "" else None
    return out


@app.command("add")
def add(
    ctx: typer.Context,
    first: str = typer.Option("", "--first", help="First name."),
    last: str = typer.Option("", "--last", help="Last name."),
    email: list[str] = typer.Option([], "--email", "-e", help="Email (repeat for more)."),
    phone: list[str] = typer.Option([], "--phone", "-p", help="Phone (repeat for more)."),
    title: str | None = typer.Option(None, "--title", help="Job title."),
    company: str | None = typer.Option(None, "--company", help="Company id, name or domain."),
    owner: str | None = typer.Option(None, "--owner", help="Owner (user login); you by default."),
    lifecycle: str = typer.Option("lead", "--lifecycle", help="lead, prospect, customer or former."),
    source: str | None = typer.Option(None, "--source", help="web, referral, event, email_campaign, social, cold, other."),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Tag (repeat for more)."),
    field: list[str] = typer.Option([], "--field", help="Custom field as name=value (repeat for more)."),
    address: str | None = typer.Option(None, "--address", help=ADDRESS_HELP),
    birthday: str | None = typer.Option(None, "--birthday", metavar="YYYY-MM-DD", help=BIRTHDAY_HELP),
    social: list[str] = typer.Option([], "--social", metavar="URL", help=SOCIAL_HELP),
    description: str | None = typer.Option(None, "--description", help=DESCRIPTION_HELP),
    do_not_email: bool = typer.Option(False, "--do-not-email/--email-ok", help=DO_NOT_EMAIL_HELP),
    create_company: bool = typer.Option(False, "--create-company", help=CREATE_COMPANY_HELP),
    allow_duplicate: bool = typer.Option(False, "--allow-duplicate", help=ALLOW_DUPLICATE_HELP),
    as_json: output.Json = False,
) -> None:
    """Add a contact."""
    st = state(ctx)
    with st.write() as (session, actor):
        data = {"first_name": first, "last_name": last, "emails": email, "phones": phone, "title": title,
                "lifecycle": lifecycle, "source": source, "tags": tag, "custom": _parse_fields(field),
                "address": address, "birthday": birthday, "social_urls": social, "description": description,
                "do_not_email": do_not_email,
                **refs.link_changes(session, company=company, owner=owner, create_company=create_company,
                                    actor=actor)}
        contact = contacts.create_contact(session, data=data, actor=actor, allow_duplicate=allow_duplicate)
    if as_json:
        output.emit_json(contact)
    else:
        output.say(f"added contact #{contact.id} {contact.full_name}")


# the contact list's search and filters (`crm view update` takes the same ones)
SEARCH = typer.Option(None, "--search", "-s", help="Search names, emails, phones.")
LIFECYCLE = typer.Option([], "--lifecycle", help="Only these lifecycle stages (repeatable).")
OWNER = typer.Option(None, "--owner", help="Only contacts owned by this user.")
TAG = typer.Option(None, "--tag", help="Only contacts with this tag.")
SOURCE = typer.Option(None, "--source", help="Only contacts from this source.")
COMPANY = typer.Option(None, "--company", help="Only contacts of this company.")
ARCHIVED = typer.Option(False, "--archived", help="List archived contacts instead.")
DO_NOT_EMAIL = typer.Option(False, "--do-not-email", help='Only contacts marked "do not email".')
SORT_HELP = "name, company, last_contacted, created, or custom.FIELD (a typed custom field)."


def contact_filters(session, *, lifecycle: list[str], owner: str | None, tag: str | None, source: str | None,
                    company: str | None, archived: bool, do_not_email: bool = False) -> dict:
    """The contact list's filters from its options (users and companies resolved)."""
    out = {"lifecycle": lifecycle or None, "tag": tag, "source": source, "archived": archived,
           "owner_id": refs.user_id(session, owner), "company_id": refs.company_id(session, company)}
    if do_not_email:
        out["do_not_email"] = True
    return out


@app.command("list")
def list_(
    ctx: typer.Context,
    search: str | None = SEARCH,
    lifecycle: list[str] = LIFECYCLE,
    owner: str | None = OWNER,
    tag: str | None = TAG,
    source: str | None = SOURCE,
    company: str | None = COMPANY,
    archived: bool = ARCHIVED,
    do_not_email: bool = DO_NOT_EMAIL,
    sort: str = typer.Option("name", "--sort", help=SORT_HELP),
    custom: list[str] = typer.Option([], "--custom", metavar="FILTER",
                                     help="A typed custom field's filter: segment=smb, seats>=10, "
                                          "renewal<2027-01-01, tags has vip, segment set (repeat for more)."),
    limit: output.Limit = 50,
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """List contacts, a page at a time, with the total count."""
    st = state(ctx)
    with st.read() as (session, _actor):
        filters = contact_filters(session, lifecycle=lifecycle, owner=owner, tag=tag, source=source,
                                  company=company, archived=archived, do_not_email=do_not_email)
        if custom:
            filters["custom"] = custom
        page = contacts.list_contacts(session, query=search, filters=filters, sort=sort, after=after,
                                      limit=limit, with_total=True)
    if as_json:
        output.emit_page_json(page)
        return
    output.table(
        ["ID", "Name", "Company", "Email", "Phone", "Stage", "Owner", "Last contacted"],
        [(c.id, c.full_name, c.company_name, c.email, c.phone, c.lifecycle, c.owner_login,
          output.local_time(c.last_contacted_at, st.zone)) for c in page.items],
    )
    output.more_hint(page, shown=len(page.items))


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    as_json: output.Json = False,
) -> None:
    """Show a contact and its latest activities."""
    st = state(ctx)
    with st.read() as (session, _actor):
        contact = contacts.find_contact(session, ref)
        recent = activities.timeline(session, contact_id=contact.id, limit=10)
        custom = fields.record_fields(session, "contact", contact.custom)
    if as_json:
        output.emit_json({**contact.model_dump(), "recent_activities": recent.items})
        return
    zone = st.zone
    output.details([
        ("Name", contact.full_name), ("Title", contact.title), ("Company", contact.company_name),
        ("Emails", ", ".join(contact.emails)), ("Phones", ", ".join(contact.phones)),
        ("Lifecycle", contact.lifecycle), ("Source", contact.source), ("Owner", contact.owner_login),
        ("Tags", ", ".join(contact.tags)), ("Address", contact.address),
        ("Birthday", contact.birthday.isoformat() if contact.birthday else None),
        ("Profiles", ", ".join(contact.social_urls)), ("Description", contact.description),
        *((label, value) for _field, label, value in custom),
        ("Last contacted", output.local_time(contact.last_contacted_at, zone)),
        ("Archived", "yes" if contact.archived else None),
        ("Do not email", "yes: no sequence or bulk mail" if contact.do_not_email else None),
        ("Created", output.local_time(contact.created_at, zone)), ("Version", contact.version),
    ], title=f"Contact #{contact.id}")
    if recent.items:
        output.table(["When", "Kind", "Subject", "By"],
                     [(output.local_time(a.occurred_at, zone), a.kind, a.subject, a.user_login) for a in recent.items],
                     title="Latest activities")


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    first: str | None = typer.Option(None, "--first", help="First name."),
    last: str | None = typer.Option(None, "--last", help="Last name."),
    email: list[str] = typer.Option([], "--email", "-e", help="Emails (replaces all; repeat for more)."),
    phone: list[str] = typer.Option([], "--phone", "-p", help="Phones (replaces all; repeat for more)."),
    title: str | None = typer.Option(None, "--title", help="Job title."),
    company: str | None = typer.Option(None, "--company", help='Company id, name or domain ("" to clear).'),
    owner: str | None = typer.Option(None, "--owner", help='Owner login ("" for none).'),
    lifecycle: str | None = typer.Option(None, "--lifecycle", help="lead, prospect, customer or former."),
    source: str | None = typer.Option(None, "--source", help='Source ("" to clear).'),
    field: list[str] = typer.Option([], "--field", help="Set a custom field: name=value (name= clears it)."),
    address: str | None = typer.Option(None, "--address", help=f'{ADDRESS_HELP} ("" to clear)'),
    birthday: str | None = typer.Option(None, "--birthday", metavar="YYYY-MM-DD", help=f'{BIRTHDAY_HELP} ("" to clear)'),
    social: list[str] = typer.Option([], "--social", metavar="URL", help="Social profile URLs (replaces all; "
                                     'repeat for more; "" clears them).'),
    description: str | None = typer.Option(None, "--description", help=f'{DESCRIPTION_HELP} ("" to clear)'),
    do_not_email: bool | None = typer.Option(None, "--do-not-email/--email-ok", help=DO_NOT_EMAIL_HELP),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    create_company: bool = typer.Option(False, "--create-company", help=CREATE_COMPANY_HELP),
    allow_duplicate: bool = typer.Option(False, "--allow-duplicate",
                                         help="Keep the change even when another contact has one of the emails."),
    as_json: output.Json = False,
) -> None:
    """Change a contact's fields; only the options given change."""
    st = state(ctx)
    with st.write() as (session, actor):
        contact = contacts.find_contact(session, ref)
        changes = {name: value for name, value in (("first_name", first), ("last_name", last), ("title", title),
                                                   ("lifecycle", lifecycle), ("source", source),
                                                   ("address", address), ("birthday", birthday),
                                                   ("description", description))
                   if value is not None}
        if do_not_email is not None:
            changes["do_not_email"] = do_not_email
        if social:
            changes["social_urls"] = [url for url in social if url.strip()]
        if email:
            changes["emails"] = email
        if phone:
            changes["phones"] = phone
        fields = _parse_fields(field)
        changes.update(refs.link_changes(session, company=company, owner=owner, create_company=create_company,
                                         actor=actor))
        # the fields that change, merged by the service into the row it holds locked
        contact = contacts.update_contact(session, contact_id=contact.id, changes=changes, actor=actor,
                                          version=version, custom_remove=[k for k, v in fields.items() if v is None],
                                          custom_set={k: v for k, v in fields.items() if v is not None},
                                          allow_duplicate=allow_duplicate)
    if as_json:
        output.emit_json(contact)
    else:
        output.say(f"updated contact #{contact.id} {contact.full_name} (version {contact.version})")


add_archive_commands(
    app, noun="contact", ref_help=REF_HELP, version_help=VERSION_HELP, find=contacts.find_contact,
    set_archived=lambda session, record_id, archived, actor, version: contacts.set_contact_archived(
        session, contact_id=record_id, archived=archived, actor=actor, version=version),
    label=lambda record: record.full_name)


@app.command("unsubscribe")
def unsubscribe(ctx: typer.Context, ref: str = typer.Argument(..., help=REF_HELP)) -> None:
    """Mark a contact "do not email" (no sequence or rule email goes to them) and stop their sequences."""
    from crm_tui.services import sequences

    with state(ctx).write() as (session, actor):
        contact = contacts.find_contact(session, ref)
        stopped = sequences.unsubscribe(session, actor, contact.id)
    output.say(f"{contact.full_name} (#{contact.id}) is marked do not email; {stopped} sequence(s) stopped")


@app.command("tag")
def tag(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    add: list[str] = typer.Argument(None, help="Tags to add."),
    remove: list[str] = typer.Option([], "--remove", "-r", help="Tag to remove (repeat for more)."),
) -> None:
    """Add and remove tags, keeping the others."""
    with state(ctx).write() as (session, actor):
        contact = contacts.find_contact(session, ref)
        contact = contacts.change_tags(session, contact_id=contact.id, add=add or [], remove=remove, actor=actor)
    output.say(f"contact #{contact.id} tags: {', '.join(contact.tags) or '(none)'}")


@app.command("normalize-phones")
def normalize_phones(
    ctx: typer.Context,
    country: str | None = typer.Option(None, "--country", metavar="CC",
                                       help="Country of numbers stored without +code (default: phone_country)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; change nothing."),
    as_json: output.Json = False,
) -> None:
    """Store the phones kept as typed in E.164 where they parse now (new phones already are)."""
    from crm_tui.services.phones import normalize_phones as run

    st = state(ctx)
    with (st.read() if dry_run else st.write()) as (session, actor):
        report = run(session, actor=actor, country=country, dry_run=dry_run)
    if as_json:
        output.emit_json({"country": report.country, "dry_run": dry_run, "checked": report.checked,
                          "contacts": [{"id": i, "old": old, "new": new} for i, (old, new) in report.contacts.items()]})
        return
    if report.contacts:
        output.table(["Contact", "Phones", "Become"], [(f"#{i}", ", ".join(old), ", ".join(new))
                                                      for i, (old, new) in sorted(report.contacts.items())])
    verb = "would change" if dry_run else "changed"
    output.say(f"{report.checked} stored phones not in E.164 form; {verb} {len(report.contacts)} contacts"
               f"{'' if report.country else ' (no default country: only numbers with a +code can change)'}")


# `crm contact dupes` and `crm contact merge` live in cli/dupes.py (issue 7)
from crm_tui.cli import dupes as _dupes  # noqa: E402 - after this module's own commands

app.command("dupes")(_dupes.contact_dupes)
app.command("merge")(_dupes.contact_merge)
app.command("not-dupe")(_dupes.contact_not_dupe)


# `bulk`: the list's filters, then one change to every record they pick (cli/bulk.py)
app.command("bulk")(bulk.contact_bulk)
