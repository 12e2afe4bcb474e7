"""`crm deal list`: the deals list's filters and sorts (issue 20), beside the flags it always had."""

from __future__ import annotations


def titles(crm, *args: str) -> list[str]:
    return [d["title"] for d in crm.json("deal", "list", *args)["items"]]


def seed(crm) -> None:
    crm.ok("company", "add", "Acme")
    crm.ok("contact", "add", "--first", "Ann", "--email", "ann@example.com", "--company", "Acme", "--tag", "vip")
    crm.ok("deal", "add", "Anvils", "--amount", "1000", "--contact", "ann@example.com", "--close", "2027-01-10")
    crm.ok("deal", "add", "Bolts", "--amount", "500", "--close", "2027-02-01")
    crm.ok("deal", "add", "Cogs", "--amount", "2000", "--company", "Acme")
    crm.ok("deal", "add", "Dynamo", "--amount", "4000", "--close", "2027-01-20")
    crm.ok("deal", "won", "3")
    crm.ok("deal", "lost", "2", "--reason", "Price")
    crm.ok("deal", "archive", "4")


def test_filters_and_sorts(crm):
    seed(crm)
    assert titles(crm) == ["Anvils", "Bolts", "Cogs"]  # won and lost too; archived apart
    assert titles(crm, "--archived") == ["Dynamo"]
    assert titles(crm, "--status", "won,lost", "--sort", "amount") == ["Cogs", "Bolts"]
    assert titles(crm, "--status", "won", "--status", "open") == ["Anvils", "Cogs"]
    assert titles(crm, "--company", "Acme", "--sort", "amount") == ["Cogs", "Anvils"]
    assert titles(crm, "--tag", "VIP") == ["Anvils"]
    assert titles(crm, "--min-amount", "600", "--max-amount", "1,500") == ["Anvils"]
    assert titles(crm, "--close-from", "2027-01-01", "--close-to", "2027-01-31") == ["Anvils"]
    assert titles(crm, "--sort", "close") == ["Anvils", "Bolts", "Cogs"]  # no close date last
    assert titles(crm, "--owner", "me", "--stage", "Won") == ["Cogs"]
    assert titles(crm, "--owner", "none") == []
    assert titles(crm, "--field", "segment=smb") == []
    page = crm.json("deal", "list", "--sort", "created", "--limit", "2")
    assert page["total"] == 3 and len(page["items"]) == 2
    rest = crm.json("deal", "list", "--sort", "created", "--limit", "2", "--after", page["next_cursor"])
    assert [d["title"] for d in page["items"] + rest["items"]] == ["Cogs", "Bolts", "Anvils"]


def test_builtin_lists(crm):
    seed(crm)
    assert titles(crm, "--list", "won") == ["Cogs"]
    assert titles(crm, "--list", "Archived deals") == ["Dynamo"]
    assert titles(crm, "--list", "open deals", "--sort", "title") == ["Anvils"]


def test_bad_input_is_one_line_and_reads_nothing(crm):
    seed(crm)
    for args, text in ((["--status", "maybe"], "invalid status 'maybe'"),
                       (["--sort", "colour"], "invalid sort 'colour'"),
                       (["--close-from", "2027-02-01", "--close-to", "2027-01-01"], "end (2027-01-01) before"),
                       (["--list", "nope"], "no saved deal list named 'nope'"),
                       (["--company", "Globex"], "Globex")):
        result = crm.fails("deal", "list", *args)
        assert text in result.stderr and result.stderr.count("\n") == 1, (args, result.stderr)
