"""`crm deal`: add, list, show, edit, move, won and lost, end to end."""

from __future__ import annotations


def test_deal_add_list_show_edit(crm):
    crm.ok("company", "add", "Acme")
    crm.ok("contact", "add", "--first", "Ann", "--email", "ann@example.com", "--company", "Acme")
    deal = crm.json("deal", "add", "Acme renewal", "--amount", "12,500", "--contact", "ann@example.com",
                    "--close", "2026-12-31")
    assert deal["amount_minor"] == 1_250_000 and deal["currency"] == "USD"
    assert deal["company_name"] == "Acme" and deal["stage_name"] == "New" and deal["expected_close"] == "2026-12-31"

    table = crm.ok("deal", "list").stdout
    assert "Acme renewal" in table and "$12,500.00" in table
    assert [d["title"] for d in crm.json("deal", "list", "--company", "Acme")["items"]] == ["Acme renewal"]
    assert "$12,500.00" in crm.ok("deal", "show", str(deal["id"])).stdout

    edited = crm.json("deal", "edit", str(deal["id"]), "--amount", "900.50", "--currency", "EUR",
                      "--version", str(deal["version"]))
    assert (edited["amount_minor"], edited["currency"]) == (90_050, "EUR")
    assert "€900.50" in crm.ok("deal", "list").stdout


def test_deal_add_in_a_named_stage_and_move_won_lost(crm):
    deal = crm.json("deal", "add", "Big one", "--amount", "1000", "--stage", "Qualified")
    assert deal["stage_name"] == "Qualified"

    moved = crm.json("deal", "move", str(deal["id"]), "proposal")
    assert moved["stage_name"] == "Proposal" and moved["status"] == "open"
    assert [d["title"] for d in crm.json("deal", "list", "--stage", "Proposal")["items"]] == ["Big one"]

    won = crm.json("deal", "won", str(deal["id"]))
    assert won["status"] == "won" and won["stage_name"] == "Won"
    assert [d["title"] for d in crm.json("deal", "list", "--status", "won")["items"]] == ["Big one"]

    other = crm.json("deal", "add", "Small one")
    lost = crm.json("deal", "lost", str(other["id"]), "--reason", "went with a competitor")
    assert lost["status"] == "lost" and lost["lost_reason"] == "went with a competitor"

    timeline = crm.json("deal", "show", str(deal["id"]))["recent_activities"]
    assert [a["subject"] for a in timeline] == ["Proposal → Won", "Qualified → Proposal"]


def test_deal_move_to_a_stage_of_no_such_name(crm):
    deal = crm.json("deal", "add", "Lonely")
    result = crm.fails("deal", "move", str(deal["id"]), "Nowhere", code=1)
    assert "Nowhere" in result.stderr
    assert crm.json("deal", "show", str(deal["id"]))["stage_name"] == "New"
