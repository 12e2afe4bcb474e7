"""Search conditions over the contact, company and activity indexes (FTS5 trigram on SQLite,
pg_trgm on PostgreSQL). Each word of the query must match; a word matches a contact by its own
text or by its company's, and an activity by its subject or notes."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, and_, column, false, func, literal_column, or_, select, table
from sqlalchemy.orm import Session

from crm_tui.models import Activity, Company, Contact
from crm_tui.services.validation import fold

MAX_QUERY = 200
# the newest matches an activity search reads from the index, however common its words: enough
# for a page of the newest, and a bound on the work (a word like "call" is in most subjects)
ACTIVITY_MATCHES = 500
COMMON_HITS = 2000
_PHONEISH = re.compile(r"^[+\d().\-/]*\d[\d().\-/]*$")


def words(query: str | None) -> list[str]:
    text = fold((query or "").replace("\x00", ""))[:MAX_QUERY]
    out = []
    for word in text.split():
        # "+1 (415)" and "555-2671" are found in the digits-only copy of each phone
        if _PHONEISH.match(word) and sum(c.isdigit() for c in word) >= 3:
            word = re.sub(r"\D", "", word)
        out.append(word)
    return out


def like_pattern(word: str) -> str:
    """`word` anywhere, for LIKE ... ESCAPE '\\' (its %, _ and \\ taken literally)."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_ids(index: str, word: str):
    fts = table(index, column("rowid"))
    phrase = '"' + word.replace('"', '""') + '"'
    return select(fts.c.rowid).where(literal_column(index).op("MATCH")(phrase))


def _matches(dialect: str, text_column, index: str, word: str, id_column):
    """`id_column` is in the set of rows whose search text contains `word`."""
    if dialect == "sqlite" and len(word) >= 3:
        return id_column.in_(_fts_ids(index, word))
    # pg_trgm serves LIKE '%word%' from its GIN index; SQLite filters short words this way
    return text_column.like(like_pattern(word), escape="\\")


def _all_common(session: Session, terms: list[str]) -> bool:
    """Whether every word matches at least 1 in 25 contacts (directly, or through their
    companies at the average contacts per company). Then walking the list in its sort order
    and testing each row finds a page within about a thousand rows, where gathering and
    sorting every match reads thousands. Rarer words are the other way round, and so are
    words whose matches bunch up in the sort order, which 4% of the list rarely does.
    Capped counts keep the probe cheap."""
    contacts = session.scalar(select(func.max(Contact.id))) or 0
    companies = session.scalar(select(func.max(Company.id))) or 1
    if len(terms) > 2 or any(len(w) < 3 for w in terms) or contacts < 10 * COMMON_HITS:
        return False
    need, per_company = contacts // 25, max(1, contacts // companies)
    for word in terms:
        direct = _capped_hits(session, "contacts_fts", word, need)
        via_companies = _capped_hits(session, "companies_fts", word, need // per_company + 1) * per_company
        if direct + via_companies < need:
            return False
    return True


def _capped_hits(session: Session, index: str, word: str, cap: int) -> int:
    return session.scalar(select(func.count()).select_from(_fts_ids(index, word).limit(cap).subquery()))


def contact_condition(dialect: str, query: str | None, session: Session | None = None) -> ColumnElement | None:
    """None when the query is empty; otherwise a condition on Contact rows. With a session
    (SQLite), common words are tested row by row along the list's order (see _all_common)."""
    terms = words(query)
    if not terms:
        return None
    if all(len(w) < 3 for w in terms):
        # on both backends, so one or two letters mean the same thing everywhere
        return _prefix(terms)
    walk = session is not None and dialect == "sqlite" and _all_common(session, terms)
    conditions = []
    for word in terms:
        own = _matches(dialect, Contact.search_text, "contacts_fts", word, Contact.id)
        if dialect == "sqlite" and len(word) < 3:
            conditions.append(own)  # too short for the index; a filter on rows already narrowed
            continue
        company_ids = select(Company.id).where(_matches(dialect, Company.search_text, "companies_fts", word, Company.id))
        if walk:
            # "+ 0" keeps SQLite from driving the query by these ids: it walks the sort index
            # instead, probing each row against the match lists, and stops after one page
            own = (Contact.id + 0).in_(_fts_ids("contacts_fts", word))
            conditions.append(or_(own, (Contact.company_id + 0).in_(company_ids)))
            continue
        conditions.append(or_(own, Contact.company_id.in_(company_ids)))
    return and_(*conditions)


def company_condition(dialect: str, query: str | None) -> ColumnElement | None:
    terms = words(query)
    if not terms:
        return None
    if all(len(w) < 3 for w in terms):
        return _starts_with(Company.name_key, " ".join(terms))
    return and_(*(_matches(dialect, Company.search_text, "companies_fts", w, Company.id) for w in terms))


def _prefix(terms: list[str]) -> ColumnElement:
    """One or two letters: names or emails that start with them (an index range scan each)."""
    return or_(*_prefix_branches(terms))


def _prefix_branches(terms: list[str]) -> list[ColumnElement]:
    text = " ".join(terms)
    if not text:
        return [false()]
    return [_starts_with(Contact.sort_name, text), _starts_with(Contact.email, text)]


def contact_branches(query: str | None) -> list[ColumnElement] | None:
    """For a query of one- or two-letter words, the conditions one of which a contact matches
    (its name starts with them, or its email does); a list walks each along its own index and
    merges the walks (paging.keyset_page's any_of). None for other queries."""
    terms = words(query)
    if not terms or not all(len(w) < 3 for w in terms):
        return None
    return _prefix_branches(terms)


def _successor(text: str) -> str | None:
    """The least string above every string that starts with `text`; None when there is none
    (all U+10FFFF). Skips the surrogates, which no database text can hold."""
    text = text.rstrip("\U0010ffff")
    if not text:
        return None
    after = ord(text[-1]) + 1
    return text[:-1] + chr(0xE000 if 0xD800 <= after <= 0xDFFF else after)


def _starts_with(column, text: str) -> ColumnElement:
    """`column` starts with `text`, as an index range scan."""
    upper = _successor(text)
    return and_(column >= text, column < upper) if upper is not None else column >= text


def activity_text():
    """The text of an activity that PostgreSQL's trigram index holds, written as migration 0010's
    index expression (with literals, not parameters, so the planner matches it to the index)."""
    return literal_column("(coalesce(activities.subject, '') || ' ' || coalesce(activities.body, ''))")


def activity_condition(dialect: str, query: str | None) -> ColumnElement | None:
    """None when the query has no word of three letters or more (shorter ones are in too many
    notes to be worth looking for); otherwise a condition on Activity rows: every word is in the
    subject or the notes, case-insensitive. On SQLite, the newest ACTIVITY_MATCHES matches."""
    terms = [w for w in words(query) if len(w) >= 3]
    if not terms:
        return None
    if dialect == "sqlite":
        fts = table("activities_fts", column("rowid"))
        phrases = " ".join('"' + w.replace('"', '""') + '"' for w in terms)  # FTS5: all of them
        newest = (select(fts.c.rowid).where(literal_column("activities_fts").op("MATCH")(phrases))
                  .order_by(fts.c.rowid.desc()).limit(ACTIVITY_MATCHES))
        return Activity.id.in_(newest)
    text = activity_text()
    return and_(*(text.ilike(like_pattern(w), escape="\\") for w in terms))
