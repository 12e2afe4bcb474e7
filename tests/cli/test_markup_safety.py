"""The tables `crm` prints hold people's text as typed: rich read a str cell or title as markup, so
"[/b]" in a name failed the command and "[red]x[/red]" lost its brackets; ":smile:" became an emoji."""

from __future__ import annotations

H = "[/b] [red]x[/red] [link=x] [Q3] :smile:"


def test_names_with_markup_print_as_typed(crm):
    crm.ok("company", "add", f"Acme {H}")
    assert f"Acme {H}" in crm.ok("company", "list").stdout
    assert f"Acme {H}" in crm.ok("company", "show", "1").stdout

    crm.ok("pipeline", "add", f"Sales {H}", "--stage", f"New {H}")
    listed = crm.ok("pipeline", "list").stdout
    assert f"Sales {H}" in listed and f"New {H}" in listed
