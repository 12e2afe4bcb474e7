"""`crm quote` (issue 22): create from a deal's items, list, show (by number or id, any revision),
render to PDF and Markdown, send with the PDF attached through a real SMTP server on loopback,
accept (the deal won at the quote's total), decline, revise and edit; bad input is one line and
writes nothing."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from crm_tui.db import open_database
from tests.cli.conftest import row_counts
from tests.cli import test_email_cli
from tests.unit.quote_fixtures import add_items

pypdf = pytest.importorskip("pypdf")
smtp_config = test_email_cli.smtp_config  # the fixture: aiosmtpd on loopback, [smtp] naming it


def _deal(crm, db_url, n=2) -> None:
    crm.ok("company", "add", "Acme")
    crm.ok("contact", "add", "--first", "Lee", "--last", "Park", "--email", "lee@acme.com", "--company", "Acme")
    crm.ok("deal", "add", "Acme renewal", "--amount", "5000", "--contact", "lee@acme.com")
    crm.ok("deal", "add", "Empty deal")
    crm.ok("user", "edit", "ann", "--email", "ann@team.example", "--name", "Ann Admin")
    db = open_database(db_url)
    with db.write() as s:
        add_items(s, 1, n)
    db.dispose()


def _config(text: str) -> Path:
    config = Path(os.environ["CRM_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    with config.open("a", encoding="utf-8") as f:
        f.write(text)
    return config


def test_create_list_show_edit_accept(crm, db_url):
    _deal(crm, db_url)
    out = crm.ok("quote", "create", "1", "--terms", "Net 30", "--valid-until", "2099-01-31").stdout
    assert "created quote Q-" in out and "2 items" in out
    made = crm.json("quote", "show", "1")
    number = made["number"]
    assert (made["status"], made["total_minor"], made["terms"], made["valid_until"]) == ("draft", 48_000, "Net 30",
                                                                                         "2099-01-31")
    assert crm.json("quote", "show", number.lower())["id"] == made["id"]
    assert "Widget 2" in crm.ok("quote", "show", number).stdout
    listed = crm.json("quote", "list", "--deal", "1")
    assert [q["number"] for q in listed["items"]] == [number]
    assert crm.json("quote", "list", "--status", "sent")["items"] == []
    crm.ok("quote", "edit", number, "--notes", "Thanks", "--version", "1")
    crm.fails("quote", "edit", number, "--notes", "Stale", "--version", "1", code=3)
    crm.ok("quote", "accept", number)
    deal = crm.json("deal", "show", "1")
    assert (deal["status"], deal["amount_minor"]) == ("won", 48_000)
    assert crm.json("quote", "show", number)["status"] == "accepted"


def test_render_pdf_and_markdown_with_the_letterhead(crm, db_url, tmp_path):
    _deal(crm, db_url, n=60)
    _config('[quotes]\ncompany = "Northwind Sales"\naddress = "1 Main St"\nfooter = "Thank you"\n')
    number = crm.json("quote", "create", "1")["number"]
    pdf_path, md_path = tmp_path / "quote.pdf", tmp_path / "quote.txt"
    assert "wrote" in crm.ok("quote", "render", number, "-o", str(pdf_path)).stdout
    pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf_path.read_bytes())).pages]
    assert len(pages) > 1 and "Northwind Sales" in pages[0] and all("Unit price" in p for p in pages[:2])
    crm.ok("quote", "render", number, "-o", str(md_path), "--format", "md")
    text = md_path.read_text(encoding="utf-8")
    assert text.startswith("**Northwind Sales**") and "Thank you" in text and "| 60 | Widget 60" in text
    crm.fails("quote", "render", number, "-o", str(tmp_path / "quote.docx"))


def test_send_attaches_the_pdf_and_freezes_the_quote_then_revise(crm, db_url, smtp_config):
    inbox = smtp_config
    _deal(crm, db_url)
    number = crm.json("quote", "create", "1")["number"]
    dry = crm.json("quote", "send", number, "--dry-run")
    assert dry["state"].startswith("dry run") and dry["attachment"] == f"{number}.pdf" and not inbox.messages
    sent = crm.json("quote", "send", number)
    assert (sent["state"], sent["status"], sent["to"]) == ("sent", "sent", ["lee@acme.com"])
    [msg] = inbox.messages
    assert msg["From"] == "Ann Admin <ann@team.example>"
    [pdf] = [p for p in msg.walk() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == f"{number}.pdf" and pdf.get_payload(decode=True).startswith(b"%PDF")
    timeline = crm.json("deal", "show", "1")["recent_activities"]
    assert any(a["kind"] == "email" and number in a["subject"] for a in timeline)
    assert "frozen" in crm.fails("quote", "edit", number, "--notes", "x").stderr
    revised = crm.json("quote", "revise", number)
    assert (revised["number"], revised["revision"], revised["status"]) == (number, 2, "draft")
    assert crm.json("quote", "show", number, "--revision", "1")["status"] == "sent"
    assert crm.json("quote", "show", number)["revision"] == 2
    crm.ok("quote", "decline", number)
    assert crm.json("quote", "show", number)["status"] == "declined"


def test_bad_input_is_one_line_and_writes_nothing(crm, db_url):
    _deal(crm, db_url)
    before = row_counts(db_url)
    assert "no items to quote" in crm.fails("quote", "create", "2").stderr
    crm.fails("quote", "create", "99")
    crm.fails("quote", "create", "1", "--valid-until", "2001-01-01")
    crm.fails("quote", "show", "Q-2026-9999")
    crm.fails("quote", "show", "nonsense")
    crm.fails("quote", "list", "--status", "lost")
    assert row_counts(db_url) == before
    number = crm.json("quote", "create", "1")["number"]
    before = row_counts(db_url)
    refused = crm.fails("quote", "send", number)
    assert "[smtp]" in refused.stderr and "crm secret set smtp" in refused.stderr
    assert row_counts(db_url) == before



def test_a_one_item_quote_says_one_item(crm, db_url):
    """"1 items" was printed for a quote of one line."""
    _deal(crm, db_url, n=1)
    out = crm.ok("quote", "create", "1").stdout
    assert "1 item," in out and "1 items" not in out
