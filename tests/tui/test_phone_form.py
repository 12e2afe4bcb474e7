"""The contact form stores phones by the one rule (issue 17 #6): E.164, read in the app's default
country (config phone_country, on the acting user), on create and on edit."""

from __future__ import annotations

import dataclasses

import pytest

from crm_tui.screens.forms import ContactForm
from crm_tui.services import contacts
from tests.tui.test_forms import SIZE, Host, fill, settle


async def test_the_contact_form_stores_e164_in_the_configured_country(db, actor, now):
    us = dataclasses.replace(actor, phone_country="US")
    app = Host(db, us, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, first_name="Ann", phones="(404) 555-0199, 404.555.0100 x12")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert saved.phones == ["+14045550199", "+14045550100 x12"]

    app = Host(db, us, now, ContactForm(saved))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, phones="+14045550199, (404) 555-0111")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    with db.read() as s:
        assert contacts.get_contact(s, contact_id=saved.id).phones == ["+14045550199", "+14045550111"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_app_hands_the_configured_phone_country_to_its_forms(db_url, monkeypatch):
    from typer.testing import CliRunner

    from crm_tui.app import CrmApp
    from crm_tui.cli.main import app

    seen = []
    monkeypatch.setenv("CRM_PHONE_COUNTRY", "gb")
    monkeypatch.setattr(CrmApp, "run", lambda self: seen.append(self.actor.phone_country))
    result = CliRunner().invoke(app, ["--db", db_url, "--user", "ann"])  # `crm` alone starts the app
    assert result.exit_code == 0, result.output
    assert seen == ["GB"]
