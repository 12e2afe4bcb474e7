"""Pipelines after a migration (issue 17 #21): any pipeline can be made the default, renamed and
archived, and `deal list --stage Won` without --pipeline finds the won deals of every pipeline."""

from __future__ import annotations

import pytest


def _default(crm) -> str:
    return next(p["name"] for p in crm.json("pipeline", "list")["items"] if p["is_default"])


def test_make_a_pipeline_the_default_rename_and_archive_it(crm):
    crm.ok("pipeline", "add", "Renewals")  # a new database has "Sales", the default
    assert _default(crm) == "Sales"
    assert "Renewals is the default" in crm.ok("pipeline", "default", "Renewals").stdout
    assert _default(crm) == "Renewals"
    crm.ok("deal", "add", "Acme renewal", "--amount", "100")  # lands in the default pipeline
    assert crm.json("deal", "show", "1")["pipeline_name"] == "Renewals"

    crm.ok("pipeline", "rename", "Renewals", "Account renewals")
    assert _default(crm) == "Account renewals"
    said = crm.ok("pipeline", "archive", "Account renewals").stdout
    assert "Sales is the default now" in said
    assert [p["name"] for p in crm.json("pipeline", "list")["items"]] == ["Sales"]
    assert {p["name"] for p in crm.json("pipeline", "list", "--archived")["items"]} == {"Sales", "Account renewals"}
    assert crm.json("deal", "list")["items"][0]["title"] == "Acme renewal"  # its deals stay

    crm.fails("pipeline", "default", "Account renewals")  # archived: bring it back first
    crm.fails("pipeline", "archive", "Sales")  # the last one in use
    crm.ok("pipeline", "unarchive", "Account renewals")
    crm.ok("pipeline", "default", "Account renewals")
    assert _default(crm) == "Account renewals"
    changes = {(e["action"], e["field"], e["new_value"])
               for e in crm.json("audit", "--entity", "pipeline")["items"]}
    assert {("archive", "archived", "true"), ("archive", "default", "Sales"), ("unarchive", "archived", "false"),
            ("update", "default", "Account renewals")} <= changes, changes


def test_a_sales_user_may_not_change_pipelines(crm):
    crm.ok("pipeline", "add", "Renewals")
    crm.ok("user", "add", "bob", "--role", "sales")
    crm.fails("pipeline", "default", "Renewals", user="bob")
    crm.fails("pipeline", "archive", "Renewals", user="bob")
    assert _default(crm) == "Sales"


def test_deal_list_by_stage_without_a_pipeline_looks_in_every_pipeline(crm):
    crm.ok("pipeline", "add", "Imported")  # beside "Sales", the default
    crm.ok("deal", "add", "Won in imported", "--pipeline", "Imported", "--amount", "10")
    crm.ok("deal", "add", "Open in imported", "--pipeline", "Imported")
    crm.ok("deal", "add", "Won in default", "--amount", "5")
    for title in ("Won in imported", "Won in default"):
        deal_id = next(d["id"] for d in crm.json("deal", "list")["items"] if d["title"] == title)
        crm.ok("deal", "won", str(deal_id))
    won = crm.json("deal", "list", "--stage", "won")["items"]
    assert sorted(d["title"] for d in won) == ["Won in default", "Won in imported"]
    only = crm.json("deal", "list", "--stage", "Won", "--pipeline", "Imported")["items"]
    assert [d["title"] for d in only] == ["Won in imported"]
    crm.fails("deal", "list", "--stage", "Nowhere")
