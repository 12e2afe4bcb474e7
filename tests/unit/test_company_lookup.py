"""Finding a company by what people type: id, full name, domain, or a unique name prefix."""

import pytest

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.services import companies


def test_lookup_by_name_domain_and_unique_prefix(db, actor, now):
    with db.write() as session:
        acme = companies.create_company(session, data={"name": "Acme Corp", "domain": "acme.com"}, actor=actor, now=now)
        companies.create_company(session, data={"name": "Globex"}, actor=actor, now=now)
        assert companies.resolve_company(session, "acme corp").id == acme.id
        assert companies.resolve_company(session, "www.acme.com").id == acme.id
        assert companies.resolve_company(session, str(acme.id)).id == acme.id
        assert companies.resolve_company(session, "Acm").id == acme.id


def test_ambiguous_prefix_names_the_candidates(db, actor, now):
    with db.write() as session:
        companies.create_company(session, data={"name": "Acme Labs"}, actor=actor, now=now)
        companies.create_company(session, data={"name": "Acme Rockets"}, actor=actor, now=now)
        with pytest.raises(InvalidInput, match=r"Acme Labs \(#\d+\), Acme Rockets \(#\d+\)"):
            companies.resolve_company(session, "acme")
        with pytest.raises(NotFound, match="no company 'Initech'") as info:
            companies.resolve_company(session, "Initech")
        assert info.value.cli_line == "no company 'Initech'; see `crm company add 'Initech'`"
