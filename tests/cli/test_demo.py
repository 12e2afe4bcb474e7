"""`crm demo` wires the demo loader to the database, a progress bar and a summary."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import SimpleNamespace

import pytest


def test_demo_loads_data_and_prints_the_summary(crm):
    pytest.importorskip("crm_tui.services.demo", reason="crm_tui.services.demo is not written yet")
    summary = crm.json("demo", "--contacts", "200", "--seed", "7")
    assert summary["contacts"] == 200
    assert set(summary) == {"companies", "contacts", "deals", "activities", "tasks", "users"}
    # the demo may archive a few records; live and archived together are what it loaded
    for kind in ("contact", "deal"):
        live = crm.json(kind, "list", "--limit", "1")["total"]
        archived = crm.json(kind, "list", "--limit", "1", "--archived")["total"]
        assert live + archived == summary[f"{kind}s"]
    # the acting user may or may not be counted among the demo's users
    assert len(crm.json("user", "list")["items"]) in (summary["users"], summary["users"] + 1)


@dataclass
class FakeSummary:
    companies: int = 3
    contacts: int = 40
    deals: int = 5
    activities: int = 1234
    tasks: int = 6
    users: int = 2


def test_demo_command_passes_its_options_and_reports_progress(crm, monkeypatch):
    calls = []

    def load_demo(session, *, contacts, seed, actor, now, progress=None):
        calls.append({"contacts": contacts, "seed": seed, "actor": actor.login, "now": now})
        for done in range(3):
            progress("contacts", done, 2)
        return FakeSummary()

    monkeypatch.setitem(sys.modules, "crm_tui.services.demo", SimpleNamespace(load_demo=load_demo))
    out = crm.ok("demo", "--contacts", "40", "--seed", "9").stdout
    assert [(c["contacts"], c["seed"], c["actor"]) for c in calls] == [(40, 9, "ann")]
    assert calls[0]["now"].tzinfo is not None
    assert "activities" in out and "1,234" in out
