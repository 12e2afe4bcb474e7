"""`crm mail`: ingest (files, stdin), triage, log, and sync against a real Dovecot from the config
file, as a person (or cron) runs them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crm_tui.cli.main import app

from tests import dovecot
from tests.cli.conftest import row_counts
from tests.unit import mail_samples as s


def test_ingest_files_and_stdin_then_triage_them(crm, tmp_path):
    crm.ok("contact", "add", "--first", "Ada", "--email", "ada@example.com")
    (tmp_path / "a.eml").write_bytes(s.plain())
    (tmp_path / "b.eml").write_bytes(s.plain(sender="Zoe Park <zoe@newco.com>", message_id="<z1@newco.com>"))
    (tmp_path / "bad.eml").write_bytes(s.garbage())
    result = crm.ok("mail", "ingest", str(tmp_path / "a.eml"), str(tmp_path / "b.eml"), str(tmp_path / "bad.eml"))
    assert "read 3, stored 2 new" in result.stdout and "1 unreadable" in result.stdout
    assert "skipped: bad.eml: not an email" in result.stderr
    piped = crm.runner.invoke(app, ["--db", crm.db_url, "--user", "ann", "mail", "ingest", "-"],
                              input=s.plain(sender="liz@corp.com", message_id="<p1@corp.com>"))
    assert piped.exit_code == 0, piped.output
    waiting = [r["address"] for r in crm.json("mail", "triage")["items"]]
    assert waiting == ["ann@ourco.com", "liz@corp.com", "zoe@newco.com"]
    crm.ok("mail", "triage", "ignore", "ann@ourco.com")
    assert "added contact" in crm.ok("mail", "triage", "lead", "zoe@newco.com").stdout
    crm.ok("mail", "triage", "link", "liz@corp.com", "ada@example.com")
    assert "Triage is empty" in crm.ok("mail", "triage").stdout
    assert crm.json("contact", "show", "zoe@newco.com")["lifecycle"] == "lead"
    assert [i["value"] for i in crm.json("mail", "triage", "ignored")] == ["ann@ourco.com"]
    log = crm.json("mail", "log")
    assert [(r["level"], r["folder"]) for r in log] == [("error", "bad.eml")]


def test_bad_input_is_one_line_and_writes_nothing(crm, db_url, tmp_path):
    crm.ok("contact", "add", "--first", "Ada")
    before = row_counts(db_url)
    crm.fails("mail", "ingest", str(tmp_path / "missing.eml"))
    crm.fails("mail", "triage", "lead", "nobody@nowhere.com")
    crm.fails("mail", "triage", "ignore", "@nodot")
    crm.fails("mail", "sync")  # no [mail.imap] in the config
    assert row_counts(db_url) == before


@pytest.mark.skipif(dovecot.unavailable() is not None, reason=dovecot.unavailable() or "")
def test_sync_from_the_config_file_and_insecure_only_on_loopback(crm, tmp_path):
    server = dovecot.Dovecot.start(tmp_path / "dovecot")
    try:
        server.append("INBOX", s.plain())
        config = Path(os.environ["CRM_CONFIG_DIR"])
        config.mkdir(parents=True, exist_ok=True)
        (config / "config.toml").write_text(
            f'[mail.imap]\nhost = "127.0.0.1"\nport = {server.port}\nusername = "{server.user}"\n')
        env = {"CRM_IMAP_PASSWORD": server.password}
        crm.ok("contact", "add", "--first", "Ada", "--email", "ada@example.com")
        refused = crm("mail", "sync", env=env)  # TLS by default: this server has none
        assert refused.exit_code != 0 and "error: cannot reach the IMAP server" in refused.stderr
        synced = crm.ok("mail", "sync", "--insecure", env=env)
        assert "INBOX: read 1, stored 1 new" in synced.stdout and server.password not in synced.output
        assert "read 0" in crm.ok("mail", "sync", "--insecure", env=env).stdout
        (config / "config.toml").write_text(
            f'[mail.imap]\nhost = "imap.example.com"\nusername = "{server.user}"\n')
        crm.fails("mail", "sync", "--insecure", env=env)
    finally:
        server.stop()
