"""The rules file: the shipped example is valid, and each kind of mistake gives one clear error
naming the rule and its line while the other rules still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_tui.workflows.rules import example_text, load_rules, parse_rules

GOOD = """
[[rule]]
name = "good-one"
trigger = { type = "deal_won" }
actions = [ { type = "create_task", title = "Onboard {contact.name}" } ]
"""


def test_the_shipped_example_is_valid_and_installed_with_the_package():
    rules = parse_rules(example_text())
    assert rules.errors == []
    assert {r.trigger.type for r in rules.rules} == {
        "deal_stale", "deal_entered_stage", "deal_won", "deal_lost", "lead_created", "customer_inactive",
        "task_overdue", "date_field", "sla_due", "sla_breached"}
    # data/workflows.toml (the repository's top-level copy) is the same file
    top = Path(__file__).parents[2] / "data" / "workflows.toml"
    assert top.read_text(encoding="utf-8") == example_text()


@pytest.mark.parametrize(("broken", "line", "says"), [
    ('trigger = { type = "deal_stale", days = 14 \nactions = []', 4, "not valid TOML"),
    ('trigger = { type = "deal_rotting", days = 14 }', 4, "unknown trigger 'deal_rotting' (known: deal_stale"),
    ('trigger = { type = "deal_stale" }', 4, "trigger deal_stale needs days"),
    # past the calendar, "now - days" would stop every run with an OverflowError
    ('trigger = { type = "deal_stale", days = 9999999999 }', 4, "days must be a whole number of days from 0 to 36500"),
    ('trigger = { type = "deal_stale", days = 14 }\nconditions = [ { field = "colour", value = "red" } ]', 5,
     "unknown field 'colour'"),
    ('trigger = { type = "deal_stale", days = 14 }\nconditions = [ { field = "amount", op = "~", value = 1 } ]', 5,
     "unknown op '~'"),
    ('trigger = { type = "task_overdue", days = 3 }\nactions = [ { type = "create_task", title = "{deal.titel}" } ]',
     5, "unknown field {deal.titel}"),
    ('trigger = { type = "task_overdue", days = 3 }\nactions = [ { type = "create_task", title = "x", due = "someday" } ]',
     5, "due: can't read 'someday'"),
    ('trigger = { type = "deal_won" }\nactions = [ { type = "launch_rocket" } ]', 5, "unknown action 'launch_rocket'"),
    ('trigger = { type = "deal_won" }\nactions = [ { type = "notify", to = "role:wizard", title = "x" } ]', 5,
     "unknown role 'wizard'"),
    ('trigger = { type = "deal_won" }\nactions = [ { type = "set_field", field = "amount", value = "1" } ]', 5,
     "set_field can set the contact's lifecycle, source or custom.NAME"),
    ('trigger = { type = "deal_won" }\ncolour = "red"\nactions = [ { type = "notify", title = "x" } ]', 5,
     "unknown key 'colour'"),
])
def test_a_broken_rule_names_itself_and_its_line_and_the_others_still_load(broken, line, says):
    text = f"{GOOD}\n[[rule]]\nname = \"broken\"\n{broken}\n{GOOD.replace('good-one', 'good-two')}"
    header = GOOD.count("\n") + 2  # the broken rule's [[rule]] line; `line` counts from the one above it
    rules = parse_rules(text, path=Path("/etc/crm/workflows.toml"))
    assert [r.name for r in rules.rules] == ["good-one", "good-two"]
    [error] = rules.errors
    assert (error.rule, error.line) == ("broken", header + line - 2), str(error)
    assert str(error).startswith(f"workflows.toml line {header + line - 2}, rule 'broken': ")
    assert says in str(error)


def test_duplicate_names_and_a_missing_file():
    rules = parse_rules(GOOD + GOOD)
    assert [r.name for r in rules.rules] == ["good-one"]
    assert "already on line 2" in str(rules.errors[0])
    assert load_rules(Path("/nonexistent/workflows.toml")).rules == []
