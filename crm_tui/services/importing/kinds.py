"""One import row of each kind (contact, company, deal, activity, task): its cleaned values, the
keys a duplicate is found by, the rows it inserts, and how it updates the record it duplicates.
The driver (importing.run) runs these a chunk at a time and does the set-based writes."""

from __future__ import annotations

import re
from datetime import datetime, time

from sqlalchemy import bindparam, or_, select, tuple_, update

from crm_tui.errors import InvalidInput
from crm_tui.models import (
    Activity, ActivityKind, Company, Contact, ContactEmail, ContactPhone, ContactTag, Deal, Direction, Lifecycle,
    Source, Stage, Tag, Task,
)
from crm_tui.services import activities
from crm_tui.services import validation as v
from crm_tui.services.companies import MULTILINE, _check_parent, _domain, company_search_text
from crm_tui.services.contacts import MAX_DESCRIPTION, MAX_EMAILS, MAX_PHONES, _birthday, _social_urls, _tags, derived_fields
from crm_tui.services.dates import end_of_day
from crm_tui.services.dedupe import contact_name_key, emails_disagree, names_disagree
from crm_tui.services.importing import values as iv
from crm_tui.services.importing.match import batches, company_norm
from crm_tui.services.importing.rows import (
    Ctx, Kind, Row, audit_updates, changed_values, owner_field, row_custom, stamps, text_field, update_columns,
)
from crm_tui.services.importing.users import UserRows
from crm_tui.services.importing.write import write_rows

_KIND_SYNONYMS = {"phone": "call", "phone call": "call", "call": "call", "e-mail": "email", "mail": "email",
                  "email": "email", "meeting": "meeting", "event": "meeting", "appointment": "meeting",
                  "video call": "meeting", "note": "note", "comment": "note"}
_DIRECTION_SYNONYMS = {"in": "inbound", "incoming": "inbound", "out": "outbound", "outgoing": "outbound"}


# --- contacts -----------------------------------------------------------------------------------


_CELL_PARTS = re.compile(r"[;,\n]")


def _split_cells(texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """"a@x.io; b@y.io" in one cell is two values (one value, the common case, skips the split)."""
    out = []
    for column, text_ in texts:
        if ";" in text_ or "," in text_ or "\n" in text_:
            out += [(column, part.strip()) for part in _CELL_PARTS.split(text_) if part.strip()]
        else:
            out.append((column, text_))
    return out


class ContactRows(Kind):
    table = Contact.__table__
    label = "contact"

    def prepare(self, rows: list[Row], ctx: Ctx) -> None:
        ctx.rel.load_companies(t for r in rows if (t := r.text("company")))

    def clean(self, row: Row, ctx: Ctx) -> None:
        d = row.data
        first, last = text_field(row, "first_name", 100), text_field(row, "last_name", 100)
        if not (first or last) and (full := row.text("full_name")):
            first, last = iv.split_name(full)
        d["first_name"], d["last_name"] = (first or "")[:100], (last or "")[:100]
        d["title"] = text_field(row, "title")
        emails, phones = [], []
        for column, text_ in _split_cells(row.values.get("email", [])):
            try:
                email = iv.email(text_)
            except InvalidInput as exc:
                row.problems.append((column, text_, exc.message))
                continue
            if email not in emails:
                emails.append(email)
        for column, text_ in _split_cells(row.values.get("phone", [])):
            try:
                number = iv.phone(text_, ctx.country)
            except InvalidInput as exc:
                row.problems.append((column, text_, exc.message))
                continue
            if number not in phones:
                phones.append(number)
        d["emails"], d["phones"] = emails[:MAX_EMAILS], phones[:MAX_PHONES]
        d["lifecycle"] = row.check("lifecycle", lambda t: v.choice(t, Lifecycle, "lifecycle stage"))
        d["source"] = row.check("source", lambda t: v.choice(t, Source, "source"))
        d["tags"] = []
        for column, text_ in row.values.get("tags", []):
            try:
                d["tags"] += [t for t in _tags(iv.split_list(text_)) if t not in d["tags"]]
            except InvalidInput as exc:
                row.problems.append((column, text_, exc.message))
        d["custom"] = row_custom(row, ctx, "contact")
        _profile(row, ctx)
        d["owner_id"] = owner_field(row, ctx)
        company = row.text("company")
        d["company_id"] = row.check("company", lambda t: ctx.rel.company(t, ctx.ids)) if company else None
        d["company_norm"] = company_norm(company) if company else None
        if not (d["first_name"] or d["last_name"] or emails) and not row.problems:
            row.problems.append(("", "", "a contact needs a name or an email"))
        d.update(derived_fields(d["first_name"], d["last_name"], d["title"], emails, phones))

    def keys(self, row: Row, ctx: Ctx) -> list[tuple]:
        d = row.data
        keys = [("email", e) for e in d["emails"]] + [("phone", p) for p in d["phones"]]
        if d["company_norm"] and (d["first_name"] or d["last_name"]):
            keys.append(("name", d["sort_name"], d["company_norm"]))
        return keys

    def describe(self, key: tuple) -> str:
        return {"email": f"same email {key[1]}", "phone": f"same phone {key[1]}",
                "name": "same name at the same company"}[key[0]]

    def existing(self, keys: dict[tuple, list[Row]], ctx: Ctx) -> dict[tuple, int]:
        session, found = ctx.session, {}
        emails = sorted(k[1] for k in keys if k[0] == "email")
        phones = sorted(k[1] for k in keys if k[0] == "phone")
        for batch in batches(emails):
            for email, contact_id in session.execute(
                    select(ContactEmail.email, ContactEmail.contact_id).where(ContactEmail.email.in_(batch))
                    .order_by(ContactEmail.contact_id.desc())):
                found[("email", email)] = contact_id
        # a phone or a name may be shared by several people: every record holding it is a candidate
        weak: dict[tuple, list[int]] = {}
        for batch in batches(phones):
            for number, contact_id in session.execute(
                    select(ContactPhone.phone, ContactPhone.contact_id).where(ContactPhone.phone.in_(batch))
                    .order_by(ContactPhone.contact_id)):
                weak.setdefault(("phone", number), []).append(contact_id)
        pairs = {}
        for key, rows in keys.items():
            company_id = rows[0].data["company_id"]
            if key[0] == "name" and company_id is not None and not ctx.ids.is_new("companies", company_id):
                pairs[(key[1], company_id)] = key
        for batch in batches(sorted(pairs)):
            for sort_name, company_id, contact_id in session.execute(
                    select(Contact.sort_name, Contact.company_id, Contact.id)
                    .where(tuple_(Contact.sort_name, Contact.company_id).in_(batch)).order_by(Contact.id)):
                weak.setdefault(pairs[(sort_name, company_id)], []).append(contact_id)
        for key, ids in weak.items():
            found[key] = ids[0]
            ctx.candidates[key] = ids
        self._load_people(ctx, {i for ids in weak.values() for i in ids} | set(found.values()))
        return found

    def _load_people(self, ctx: Ctx, ids: set[int]) -> None:
        """Who each matched record is (its emails and name key), for `holds`; records this run
        already changed keep what the run made of them."""
        ids = sorted(ids - ctx.people.keys())
        emails: dict[int, set[str]] = {i: set() for i in ids}
        for batch in batches(ids):
            for contact_id, email in ctx.session.execute(
                    select(ContactEmail.contact_id, ContactEmail.email).where(ContactEmail.contact_id.in_(batch))):
                emails[contact_id].add(email)
            for contact_id, first, last, sort_name in ctx.session.execute(
                    select(Contact.id, Contact.first_name, Contact.last_name, Contact.sort_name)
                    .where(Contact.id.in_(batch))):
                name = contact_name_key(sort_name or "") if (first or last) else ""
                ctx.people[contact_id] = (frozenset(emails[contact_id]), name)

    def matches(self, key: tuple, found: dict[tuple, int], ctx: Ctx) -> list[int]:
        return ctx.candidates.get(key) or super().matches(key, found, ctx)

    def holds(self, row: Row, key: tuple, record_id: int, ctx: Ctx) -> bool:
        """An email always makes two records one. A phone does only when neither their emails nor
        their names disagree; a name at the same company only when their emails do not."""
        if key[0] == "email" or record_id not in ctx.people:
            return True
        emails, name = ctx.people[record_id]
        if emails_disagree(row.data["emails"], emails):
            return False
        return key[0] != "phone" or not names_disagree(_name_key(row), name)

    def noted(self, row: Row, ctx: Ctx) -> None:
        emails, name = ctx.people.get(row.target, (frozenset(), ""))
        if row.action == "create":
            emails, name = frozenset(), ""
        ctx.people[row.target] = (emails | frozenset(row.data["emails"]), _name_key(row) or name)

    def insert(self, row: Row, ctx: Ctx, out: dict[str, list[dict]]) -> None:
        d, contact_id = row.data, row.target
        company_id = d["company_id"]
        out["contacts"].append({
            "id": contact_id, "first_name": d["first_name"], "last_name": d["last_name"], "title": d["title"],
            "company_id": company_id, "company_key": ctx.rel.company_key(company_id),
            "owner_id": d["owner_id"] if d["owner_id"] is not None else ctx.actor_id,
            "lifecycle": d["lifecycle"] or "lead", "source": d["source"], "custom": d["custom"],
            **{k: d[k] or None for k in PROFILE_COLUMNS},
            "last_contacted_at": None, "archived": False, "do_not_email": False, **stamps(ctx),
            **{k: d[k] for k in ("full_name", "sort_name", "email", "phone", "search_text")}})
        out["contact_emails"] += [{"id": ctx.ids.take("contact_emails"), "contact_id": contact_id, "email": e,
                                   "position": i} for i, e in enumerate(d["emails"])]
        out["contact_phones"] += [{"id": ctx.ids.take("contact_phones"), "contact_id": contact_id, "phone": p,
                                   "position": i} for i, p in enumerate(d["phones"])]
        out["contact_tags"] += [{"contact_id": contact_id, "tag_id": _tag_id(ctx, t)} for t in d["tags"]]

    def update(self, pairs: list[tuple[int, Row]], ctx: Ctx, write: bool) -> tuple[int, int]:
        return update_contacts(pairs, ctx, write)


PROFILE_COLUMNS = ("address", "birthday", "social_urls", "description")


def _profile(row: Row, ctx: Ctx) -> None:
    """A contact's address, birthday, profile URLs and description, as the service checks them."""
    d = row.data
    d["address"] = text_field(row, "address", 500)
    d["description"] = text_field(row, "description", MAX_DESCRIPTION, multiline=True)
    d["birthday"] = row.check("birthday", lambda t: _birthday(ctx.day(t), ctx.now))
    d["social_urls"] = []
    for column, text_ in _split_cells(row.values.get("social", [])):
        try:
            d["social_urls"] += [u for u in _social_urls([text_]) if u not in d["social_urls"]]
        except InvalidInput as exc:
            row.problems.append((column, text_, exc.message))


def _name_key(row: Row) -> str:
    d = row.data
    return contact_name_key(d["sort_name"]) if (d["first_name"] or d["last_name"]) else ""


def _tag_id(ctx: Ctx, name: str) -> int:
    if name not in ctx.tags:
        found = ctx.session.scalar(select(Tag.id).where(Tag.name == name))
        if found is None:
            found = ctx.ids.take("tags")
            ctx.new_tags.append({"id": found, "name": name})
        ctx.tags[name] = found
    return ctx.tags[name]


_CONTACT_COLUMNS = ("first_name", "last_name", "title", "company_id", "owner_id", "lifecycle", "source", "custom",
                    *PROFILE_COLUMNS)


def update_contacts(pairs: list[tuple[int, Row]], ctx: Ctx, write: bool) -> tuple[int, int]:
    """Set fields, add emails, phones and tags the file has and the contact lacks."""
    session, table = ctx.session, Contact.__table__
    updated = unchanged = 0
    for batch in batches(pairs):
        ids = sorted({target for target, _ in batch})
        current = {r.id: dict(r._mapping) for r in session.execute(
            select(table.c.id, *(table.c[c] for c in _CONTACT_COLUMNS)).where(table.c.id.in_(ids)))}
        points = {i: {"emails": [], "phones": [], "tags": []} for i in ids}
        for contact_id, email in session.execute(select(ContactEmail.contact_id, ContactEmail.email)
                                                 .where(ContactEmail.contact_id.in_(ids)).order_by(ContactEmail.position)):
            points[contact_id]["emails"].append(email)
        for contact_id, number in session.execute(select(ContactPhone.contact_id, ContactPhone.phone)
                                                  .where(ContactPhone.contact_id.in_(ids)).order_by(ContactPhone.position)):
            points[contact_id]["phones"].append(number)
        for contact_id, tag in session.execute(select(ContactTag.contact_id, Tag.name).join(Tag, Tag.id == ContactTag.tag_id)
                                               .where(ContactTag.contact_id.in_(ids))):
            points[contact_id]["tags"].append(tag)
        before = {i: ({c: current[i][c] for c in _CONTACT_COLUMNS}, {k: list(x) for k, x in points[i].items()})
                  for i in ids}
        changed_ids, new_points = set(), {"contact_emails": [], "contact_phones": [], "contact_tags": []}
        for target, row in batch:
            record, have = current[target], points[target]
            changes = changed_values(record, {c: row.data.get(c) for c in _CONTACT_COLUMNS})
            added = {name: [x for x in row.data[name] if x not in have[name]] for name in ("emails", "phones", "tags")}
            if not changes and not any(added.values()):
                unchanged += 1
                continue
            updated += 1
            record.update(changes)
            for name, table_name, column in (("emails", "contact_emails", "email"), ("phones", "contact_phones", "phone")):
                for item in added[name][:max(0, 10 - len(have[name]))]:
                    new_points[table_name].append({"id": ctx.ids.take(table_name), "contact_id": target,
                                                   column: item, "position": len(have[name])})
                    have[name].append(item)
            for tag in added["tags"]:
                new_points["contact_tags"].append({"contact_id": target, "tag_id": _tag_id(ctx, tag)})
                have["tags"].append(tag)
            changed_ids.add(target)
        if not write or not changed_ids:
            continue
        params = []
        for target in sorted(changed_ids):
            record, have = current[target], points[target]
            params.append({"_id": target, **{c: record[c] for c in _CONTACT_COLUMNS},
                           "company_key": ctx.rel.company_key(record["company_id"]),
                           **derived_fields(record["first_name"], record["last_name"], record["title"],
                                            have["emails"], have["phones"])})
        _write_new(ctx, {"tags": ctx.new_tags})
        ctx.new_tags = []
        session.execute(update(table).where(table.c.id == bindparam("_id"))
                        .values(version=table.c.version + 1, updated_at=ctx.now), params)
        _write_new(ctx, new_points)
        changed = []
        for target in sorted(changed_ids):
            old, old_points = before[target]
            new = {c: current[target][c] for c in _CONTACT_COLUMNS if current[target][c] != old[c]}
            new.update({name: points[target][name] for name in ("emails", "phones", "tags")
                        if points[target][name] != old_points[name]})
            changed.append((target, {**old, **old_points}, new))
        audit_updates(ctx, "contact", changed, table.name)
    return updated, unchanged


def _write_new(ctx: Ctx, rows: dict[str, list[dict]]) -> None:
    write_rows(ctx.session, rows)


# --- companies ------------------------------------------------------------------------------------


class CompanyRows(Kind):
    table = Company.__table__
    label = "company"
    updatable = ("name", "name_key", "domain", "industry", "size", "address", "owner_id", "parent_id", "notes",
                 "custom")

    def prepare(self, rows: list[Row], ctx: Ctx) -> None:
        ctx.rel.load_companies(t for r in rows for t in (r.text("name"), r.text("parent")) if t)

    def clean(self, row: Row, ctx: Ctx) -> None:
        d = row.data
        d["name"] = row.check("name", lambda t: v.required_text(t, "company name"))
        if d["name"] is None and not row.problems:
            row.problems.append(("", "", "a company needs a name"))
        d["name_key"] = v.fold(d["name"]) if d["name"] else None
        d["domain"] = row.check("domain", _domain)
        for name, limit in (("industry", 100), ("size", 32), ("address", 2000), ("notes", 20000)):
            d[name] = text_field(row, name, limit, multiline=name in MULTILINE)
        d["owner_id"] = owner_field(row, ctx)
        d["custom"] = row_custom(row, ctx, "company")
        # the group it belongs to: matched by normalised name, or added, as a contact's company is
        parent = row.text("parent")
        d["parent_id"] = row.check("parent", lambda t: ctx.rel.company(t, ctx.ids)) if parent else None
        if parent and d["name"] and company_norm(parent) == company_norm(d["name"]):
            row.problems.append((row.column("parent"), parent, "a company cannot belong to itself"))

    def reserved(self, row: Row, ctx: Ctx) -> int | None:
        """A company an earlier row of this part of the file named as its parent, not written yet,
        is this row's: one company, with this row's fields, not two."""
        company_id = ctx.rel.companies.get(company_norm(row.data["name"] or ""))
        if company_id is not None and ctx.rel.new_companies.pop(company_id, None) is not None:
            return company_id
        return None

    def keys(self, row: Row, ctx: Ctx) -> list[tuple]:
        d = row.data
        keys = [("domain", d["domain"])] if d["domain"] else []
        return keys + [("name", company_norm(d["name"]))] if d["name"] else keys

    def describe(self, key: tuple) -> str:
        return f"same domain {key[1]}" if key[0] == "domain" else "same name"

    def existing(self, keys: dict[tuple, list[Row]], ctx: Ctx) -> dict[tuple, int]:
        found = {}
        domains = sorted(k[1] for k in keys if k[0] == "domain")
        for batch in batches(domains):
            for domain, company_id in ctx.session.execute(
                    select(Company.domain, Company.id).where(Company.domain.in_(batch)).order_by(Company.id.desc())):
                found[("domain", domain)] = company_id
        for key in keys:
            if key[0] == "name":
                company_id = ctx.rel.companies.get(key[1])
                if company_id is not None and not ctx.ids.is_new("companies", company_id):
                    found[key] = company_id
        return found

    def insert(self, row: Row, ctx: Ctx, out: dict[str, list[dict]]) -> None:
        d = row.data
        ctx.rel.companies.setdefault(company_norm(d["name"]), row.target)
        ctx.rel.company_keys[row.target] = d["name_key"]
        out["companies"].append({
            "id": row.target, "name": d["name"], "name_key": d["name_key"], "domain": d["domain"],
            "industry": d["industry"], "size": d["size"], "address": d["address"],
            "owner_id": d["owner_id"] if d["owner_id"] is not None else ctx.actor_id, "notes": d["notes"],
            # its parent may come later in the same insert: linked in after_insert, once all are in
            "parent_id": None, "custom": d["custom"], "archived": False,
            "search_text": company_search_text(d["name"], d["domain"]), **stamps(ctx)})

    def after_insert(self, rows: list[Row], ctx: Ctx) -> None:
        links = [{"_id": row.target, "_parent": row.data["parent_id"]} for row in rows if row.data.get("parent_id")]
        if links:
            table = self.table
            ctx.session.execute(update(table).where(table.c.id == bindparam("_id"))
                                .values(parent_id=bindparam("_parent")), links)

    def update(self, pairs: list[tuple[int, Row]], ctx: Ctx, write: bool) -> tuple[int, int]:
        renamed: list[dict] = []

        def derive(record: dict, changes: dict) -> None:
            merged = {**record, **changes}
            changes["search_text"] = company_search_text(merged["name"], merged["domain"])
            if "parent_id" in changes and not ctx.ids.is_new("companies", changes["parent_id"]):
                _check_parent(ctx.session, record["id"], changes["parent_id"])  # never its own ancestor
            if "name_key" in changes:
                renamed.append({"_company": record["id"], "company_key": changes["name_key"]})

        result = update_columns(self.table, pairs, ctx, write, self.updatable, derive, entity=self.label)
        if write and renamed:
            contacts = Contact.__table__
            ctx.session.execute(update(contacts).where(contacts.c.company_id == bindparam("_company")), renamed)
        return result


# --- deals ----------------------------------------------------------------------------------------


class DealRows(Kind):
    table = Deal.__table__
    label = "deal"
    updatable = ("title", "title_key", "company_id", "contact_id", "pipeline_id", "stage_id", "owner_id",
                 "amount_minor", "currency", "expected_close", "status", "lost_reason", "closed_at", "custom",
                 "created_at", "stage_entered_at")

    def prepare(self, rows: list[Row], ctx: Ctx) -> None:
        ctx.rel.load_companies(t for r in rows if (t := r.text("company")))
        ctx.rel.load_contacts(t for r in rows if (t := r.text("contact")))

    def clean(self, row: Row, ctx: Ctx) -> None:
        d = row.data
        d["title"] = row.check("title", lambda t: v.required_text(t, "deal title"))
        if d["title"] is None and not row.problems:
            row.problems.append(("", "", "a deal needs a title"))
        d["title_key"] = v.fold(d["title"]) if d["title"] else None
        amount_text = row.text("amount") or ""
        currency = row.check("currency", v.currency_code) or (
            iv.currency_in(amount_text) if amount_text else None) or ctx.currency
        try:
            currency = v.currency_code(currency)
        except InvalidInput as exc:
            row.problems.append((row.column("amount"), amount_text, exc.message))
            currency = ctx.currency
        d["currency"] = currency
        d["amount_minor"] = row.check("amount", lambda t: v.money(t, currency, locale=ctx.locale))
        d["expected_close"] = row.check("close_date", ctx.day)
        status, stage = row.text("status"), None
        try:
            stage = ctx.rel.stage(row.text("stage"), row.text("pipeline"), status)
        except InvalidInput as exc:
            where = "stage" if row.text("stage") else "pipeline"
            row.problems.append((row.column(where), row.text(where) or "", exc.message))
        if stage is not None and status and status.strip().lower() in ("won", "lost", "open") \
                and status.strip().lower() != stage.kind:
            row.problems.append((row.column("status"), status,
                                 f"status {status.strip()!r} does not match stage {stage.name!r} ({stage.kind})"))
        d["stage"] = stage
        d["pipeline_id"] = stage.pipeline_id if stage else None
        d["stage_id"] = stage.id if stage else None
        d["status"] = stage.kind if stage else None
        self._history(row, ctx, stage)
        d["lost_reason"] = text_field(row, "lost_reason", 500)
        d["owner_id"] = owner_field(row, ctx)
        company = row.text("company")
        d["company_id"] = row.check("company", lambda t: ctx.rel.company(t, ctx.ids)) if company else None
        d["company_norm"] = company_norm(company) if company else ""
        d["contact_id"] = row.check("contact", ctx.rel.contact)
        d["custom"] = row_custom(row, ctx, "deal")

    @staticmethod
    def _history(row: Row, ctx: Ctx, stage: Stage | None) -> None:
        """When the deal was opened (its created_at), entered its stage and closed. A closed deal
        closed on its close date, else when it entered its (closed) stage, else now. None of these
        may be in the future, nor before the opening: such a row is invalid, so days to win is
        never negative."""
        d = row.data

        def moment(name: str) -> datetime | None:
            # a day without a time: that calendar day of the team's, at its end as a close date is,
            # so that opened and closed on given days are whole days apart
            when = row.check(name, lambda t: ctx.moment(t, default_time=time.max))
            if when is None or when <= ctx.now:
                return when
            if _local_day(when, ctx) <= _local_day(ctx.now, ctx):
                return ctx.now  # today, at noon: not later than now
            row.problems.append((row.column(name), row.text(name) or "",
                                 f"{_HISTORY[name]} {_local_day(when, ctx)}, which is in the future"))
            return None

        opened, entered = moment("opened_at"), moment("stage_entered_at")
        close = d["expected_close"]
        closed = None
        if stage is not None and stage.kind != "open":
            # closed on that day in the team's zone, so the team's reports count it in that day
            closed = end_of_day(close, ctx.team_zone or ctx.zone, ctx.now) if close else entered or ctx.now
        for name, when in (("stage_entered_at", entered), ("close_date", closed if close else None)):
            if opened is not None and when is not None and when < opened:
                row.problems.append((row.column(name), row.text(name) or "",
                                     f"{_HISTORY[name]} {_local_day(when, ctx)}, before the deal was opened "
                                     f"({_local_day(opened, ctx)}, {row.column('opened_at')})"))
        d["created_at"], d["closed_at"] = opened, closed
        # in its stage since the file says, else since it closed, else since it was opened
        d["stage_entered_at"] = entered or closed or opened

    def keys(self, row: Row, ctx: Ctx) -> list[tuple]:
        return [("deal", row.data["title_key"], row.data["company_norm"])] if row.data["title_key"] else []

    def describe(self, key: tuple) -> str:
        return "same title" + (" at the same company" if key[2] else "")

    def existing(self, keys: dict[tuple, list[Row]], ctx: Ctx) -> dict[tuple, int]:
        wanted = {}
        for key, rows in keys.items():
            company_id = rows[0].data["company_id"]
            if company_id is None or not ctx.ids.is_new("companies", company_id):
                wanted[(key[1], company_id)] = key
        found = {}
        for batch in batches(sorted({k[0] for k in wanted})):
            for title_key, company_id, deal_id in ctx.session.execute(
                    select(Deal.title_key, Deal.company_id, Deal.id).where(Deal.title_key.in_(batch))
                    .order_by(Deal.id.desc())):
                if (title_key, company_id) in wanted:
                    found[wanted[(title_key, company_id)]] = deal_id
        return found

    def insert(self, row: Row, ctx: Ctx, out: dict[str, list[dict]]) -> None:
        d = row.data
        entered = d["stage_entered_at"] or ctx.now
        out["deals"].append({
            "id": row.target, "title": d["title"], "title_key": d["title_key"], "company_id": d["company_id"],
            "contact_id": d["contact_id"], "pipeline_id": d["pipeline_id"], "stage_id": d["stage_id"],
            "owner_id": d["owner_id"] if d["owner_id"] is not None else ctx.actor_id,
            "amount_minor": d["amount_minor"] or 0, "currency": d["currency"], "expected_close": d["expected_close"],
            "status": d["status"], "lost_reason": d["lost_reason"], "stage_entered_at": entered,
            "closed_at": d["closed_at"], "custom": d["custom"], "archived": False,
            **stamps(ctx), "created_at": d["created_at"] or ctx.now})

    def update(self, pairs: list[tuple[int, Row]], ctx: Ctx, write: bool) -> tuple[int, int]:
        for _, row in pairs:
            if not (row.text("stage") or row.text("pipeline") or row.text("status")):
                # the stage clean() chose is a new deal's default: an update leaves the deal where it is
                row.data.update(pipeline_id=None, stage_id=None, status=None, closed_at=None)
            if not row.text("stage_entered_at"):  # the file's date, or the move's (derive)
                row.data["stage_entered_at"] = None

        def derive(record: dict, changes: dict) -> None:
            if "stage_id" in changes:
                changes.setdefault("stage_entered_at", changes.get("closed_at") or ctx.now)
                if changes.get("status", record["status"]) == "open":
                    changes["closed_at"] = None

        return update_columns(self.table, pairs, ctx, write, self.updatable, derive, entity=self.label,
                               written=lambda changed: _moved(ctx, changed))


_HISTORY = {"opened_at": "opened", "stage_entered_at": "entered its stage", "close_date": "closed"}


def _local_day(when: datetime, ctx: Ctx) -> str:
    return when.astimezone(ctx.zone).date().isoformat()


_MOVE_FIELDS = ("pipeline_id", "stage_id", "status", "lost_reason", "closed_at")


def _moved(ctx: Ctx, changed: list[tuple[int, dict, dict]]) -> None:
    """Audit updated deals; a deal the file puts in another stage is audited and logged as
    `crm deal move` does it: the stage fields under move, won, lost or reopen, and a stage-change
    activity "From → To" (the other fields under update)."""
    changed = [c for c in changed if ctx.actor is not None and not ctx.ids.is_new("deals", c[0])]
    stage_ids = {i for _, old, new in changed if "stage_id" in new for i in (old["stage_id"], new["stage_id"])}
    stages = {r.id: r for r in ctx.session.execute(
        select(Stage.id, Stage.name, Stage.kind).where(Stage.id.in_(stage_ids)))} if stage_ids else {}

    def split(old: dict, fields: dict) -> list[tuple[str, dict]]:
        if "stage_id" not in fields:
            return [("update", fields)]
        status = fields.get("status", (None, old["status"]))[1]
        action = {"won": "won", "lost": "lost"}.get(status, "move")
        if action == "move" and stages[old["stage_id"]].kind != "open":
            action = "reopen"
        moved = {k: val for k, val in fields.items() if k in _MOVE_FIELDS}
        return [(action, moved), ("update", {k: val for k, val in fields.items() if k not in _MOVE_FIELDS})]

    audit_updates(ctx, "deal", changed, "deals", split)
    activities = []
    for target, old, new in changed:
        if "stage_id" not in new:
            continue
        deal = {**old, **new}
        activities.append({
            "id": ctx.ids.take("activities"), "kind": ActivityKind.STAGE_CHANGE.value, "direction": None,
            "occurred_at": ctx.now, "duration_minutes": None, "outcome": deal["status"],
            "subject": f"{stages[old['stage_id']].name} → {stages[new['stage_id']].name}",
            "body": deal["lost_reason"] if deal["status"] == "lost" else None, "contact_id": deal["contact_id"],
            "company_id": deal["company_id"], "deal_id": target, "user_id": ctx.actor.user_id, **stamps(ctx)})
    if activities:
        _write_new(ctx, {"activities": activities})


# --- activities and tasks -------------------------------------------------------------------------


def _links(row: Row, ctx: Ctx) -> None:
    d = row.data
    company = row.text("company")
    d["company_id"] = row.check("company", lambda t: ctx.rel.company(t, ctx.ids)) if company else None
    d["contact_id"] = row.check("contact", ctx.rel.contact)
    d["deal_id"] = row.check("deal", ctx.rel.deal)


def _prepare_links(rows: list[Row], ctx: Ctx) -> None:
    ctx.rel.load_companies(t for r in rows if (t := r.text("company")))
    ctx.rel.load_contacts(t for r in rows if (t := r.text("contact")))
    ctx.rel.load_deals(t for r in rows if (t := r.text("deal")))


def _activity_kind(text_: str) -> str:
    key = " ".join(text_.strip().lower().split())
    kind = _KIND_SYNONYMS.get(key, key)
    if kind not in ("call", "email", "meeting", "note"):
        raise InvalidInput(f"invalid activity type {text_.strip()!r}: choose one of call, email, meeting, note")
    return kind


def _minutes(text_: str) -> int:
    match = re.fullmatch(r"\s*(?:(\d+):)?(\d+)\s*(?:m|min|mins|minutes)?\s*", text_.lower())
    if not match:
        raise InvalidInput(f"invalid duration {text_.strip()!r}: give minutes, such as 30 or 1:15")
    return activities.duration_minutes(int(match[1] or 0) * 60 + int(match[2]))


class ActivityRows(Kind):
    table = Activity.__table__
    label = "activity"
    updatable = ("body", "outcome", "direction", "duration_minutes", "deal_id", "company_id", "user_id")

    def prepare(self, rows: list[Row], ctx: Ctx) -> None:
        _prepare_links(rows, ctx)

    def clean(self, row: Row, ctx: Ctx) -> None:
        d = row.data
        d["kind"] = row.check("kind", _activity_kind)
        d["occurred_at"] = row.check("occurred_at", ctx.moment)
        for name, column in (("kind", "kind"), ("occurred_at", "occurred_at")):
            if d[name] is None and row.text(column) is None:
                row.problems.append(("", "", f"an activity needs its {name.replace('_', ' ')}"))
        d["subject"], d["body"] = text_field(row, "subject", 300), text_field(row, "body", 100_000, multiline=True)
        d["outcome"] = text_field(row, "outcome", 100)
        d["direction"] = row.check("direction", lambda t: v.choice(
            _DIRECTION_SYNONYMS.get(t.strip().lower(), t), Direction, "direction"))
        d["duration_minutes"] = row.check("duration", _minutes)
        d["user_id"] = owner_field(row, ctx, "user")
        _links(row, ctx)

    def keys(self, row: Row, ctx: Ctx) -> list[tuple]:
        d = row.data
        return [("activity", d["kind"], d["occurred_at"], d["contact_id"], v.fold(d["subject"] or ""))]

    def describe(self, key: tuple) -> str:
        return "same type, time, contact and subject"

    def existing(self, keys: dict[tuple, list[Row]], ctx: Ctx) -> dict[tuple, int]:
        found = {}
        for batch in batches(sorted({k[2] for k in keys})):
            for r in ctx.session.execute(
                    select(Activity.id, Activity.kind, Activity.occurred_at, Activity.contact_id, Activity.subject)
                    .where(Activity.occurred_at.in_(batch))):
                key = ("activity", r.kind, r.occurred_at, r.contact_id, v.fold(r.subject or ""))
                if key in keys:
                    found[key] = r.id
        return found

    def insert(self, row: Row, ctx: Ctx, out: dict[str, list[dict]]) -> None:
        d = row.data
        out["activities"].append({
            "id": row.target, **{k: d[k] for k in ("kind", "direction", "occurred_at", "duration_minutes", "outcome",
                                                  "subject", "body", "contact_id", "company_id", "deal_id")},
            "user_id": d["user_id"] if d["user_id"] is not None else ctx.actor_id, **stamps(ctx)})

    def after_insert(self, rows: list[Row], ctx: Ctx) -> None:
        """Activities without a company take their contact's; calls, emails and meetings move the
        contact's last_contacted_at. Both set-based."""
        contacts = Contact.__table__
        latest: dict[int, datetime] = {}
        for row in rows:
            d = row.data
            # one still ahead is planned, not contact: activities.arrive_planned counts it later
            if d["contact_id"] and ActivityKind(d["kind"]).is_interaction and d["occurred_at"] <= ctx.now:
                latest[d["contact_id"]] = max(latest.get(d["contact_id"], d["occurred_at"]), d["occurred_at"])
        activities = Activity.__table__
        ids = [row.target for row in rows if row.data["contact_id"] and row.data["company_id"] is None]
        for batch in batches(ids):
            ctx.session.execute(
                update(activities).where(activities.c.id.in_(batch))
                .values(company_id=select(contacts.c.company_id).where(contacts.c.id == activities.c.contact_id)
                        .scalar_subquery()))
        if latest:
            ctx.session.execute(
                update(contacts).where(contacts.c.id == bindparam("_id"),
                                       or_(contacts.c.last_contacted_at.is_(None),
                                           contacts.c.last_contacted_at < bindparam("_at", type_=contacts.c.last_contacted_at.type)))
                .values(last_contacted_at=bindparam("_at", type_=contacts.c.last_contacted_at.type)),
                [{"_id": k, "_at": t} for k, t in latest.items()])


class TaskRows(Kind):
    table = Task.__table__
    label = "task"
    updatable = ("notes", "due_at", "assignee_id", "done_at", "contact_id", "company_id", "deal_id")

    def prepare(self, rows: list[Row], ctx: Ctx) -> None:
        _prepare_links(rows, ctx)

    def clean(self, row: Row, ctx: Ctx) -> None:
        d = row.data
        d["title"] = row.check("title", lambda t: v.required_text(t, "task title", max_length=300))
        if d["title"] is None and not row.problems:
            row.problems.append(("", "", "a task needs a title"))
        d["notes"] = text_field(row, "notes", 20000, multiline=True)
        d["due_at"] = row.check("due", lambda t: ctx.moment(t, default_time=time(9, 0)))
        d["done_at"] = row.check("done", lambda t: self._done(t, ctx))
        d["assignee_id"] = owner_field(row, ctx, "assignee")
        _links(row, ctx)

    @staticmethod
    def _done(text_: str, ctx: Ctx) -> datetime | None:
        try:
            return ctx.now if iv.flag(text_) else None
        except InvalidInput:
            return ctx.moment(text_)

    def keys(self, row: Row, ctx: Ctx) -> list[tuple]:
        d = row.data
        if not d["title"]:
            return []
        return [("task", v.fold(d["title"]), d["due_at"], d["contact_id"], d["deal_id"], d["company_id"])]

    def describe(self, key: tuple) -> str:
        return "same title, due time and record"

    def existing(self, keys: dict[tuple, list[Row]], ctx: Ctx) -> dict[tuple, int]:
        found = {}
        dues = sorted({k[2] for k in keys if k[2] is not None})
        titles = sorted({rows[0].data["title"] for k, rows in keys.items() if k[2] is None})
        conditions = [Task.due_at.in_(b) for b in batches(dues)] + [
            (Task.due_at.is_(None) & Task.title.in_(b)) for b in batches(titles)]
        for condition in conditions:
            for r in ctx.session.execute(select(Task.id, Task.title, Task.due_at, Task.contact_id, Task.deal_id,
                                                Task.company_id).where(condition)):
                key = ("task", v.fold(r.title), r.due_at, r.contact_id, r.deal_id, r.company_id)
                if key in keys:
                    found[key] = r.id
        return found

    def insert(self, row: Row, ctx: Ctx, out: dict[str, list[dict]]) -> None:
        d = row.data
        out["tasks"].append({
            "id": row.target, "title": d["title"], "notes": d["notes"], "due_at": d["due_at"],
            "assignee_id": d["assignee_id"] if d["assignee_id"] is not None else ctx.actor_id,
            "contact_id": d["contact_id"], "company_id": d["company_id"], "deal_id": d["deal_id"],
            "done_at": d["done_at"], "snoozed_until": None, "recurrence": None, "recurrence_start": None,
            "origin": "manual", "rule_name": None, "created_by_id": ctx.actor_id, **stamps(ctx)})


from crm_tui.services.importing.product_rows import ProductRows  # noqa: E402 - the catalog's own module

KINDS: dict[str, Kind] = {"contacts": ContactRows(), "companies": CompanyRows(), "deals": DealRows(),
                          "activities": ActivityRows(), "tasks": TaskRows(), "users": UserRows(),
                          "products": ProductRows()}
