"""Escape-sequence injection (issue 16 #6): a value holding ESC[2J wiped the screen of whoever
listed it, an OSC title renamed their terminal, and an OSC 8 link passed through. Control
characters are stripped where values enter (validation.clean_text, behind every text field of
every service and the importer), and removed again where text leaves (the CLI's console, the
app's line filter), since an older database or a direct SQL write can still hold them.

Each sequence is one row of SEQUENCES (the text around it, and what is left of it once stored);
each way in is one row of WRITERS; both tables are meant to grow."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from crm_tui.cli.main import app
from crm_tui.errors import InvalidInput
from crm_tui.screens.contacts.detail import ContactDetailScreen
from crm_tui.screens.contacts.screen import ContactsScreen
from crm_tui.services import activities, companies, contacts, deals, pipelines, tasks, users, views
from crm_tui.services.validation import clean_text, printable
from tests.cli.conftest import Crm
from tests.tui.conftest import actor_sqlite, make_app, settle, sqlite_db  # noqa: F401 - fixtures

# (the sequence, what a stored one-line value keeps of it)
SEQUENCES = [
    pytest.param("\x1b[2J", "", id="csi-clear-screen"),
    pytest.param("\x1b]0;pwned\x07", "", id="osc-window-title"),
    pytest.param("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link", id="osc8-hyperlink"),
    pytest.param("\x9b2J", "", id="c1-csi"),
    pytest.param("\r", " ", id="carriage-return"),
    pytest.param("\x07", "", id="bell"),
    pytest.param("\x00", "", id="nul"),
    pytest.param("\x7f", "", id="del"),
]
PAIRS = [(p.values[0], p.values[1]) for p in SEQUENCES]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# what Textual itself sends for a frame: cursor moves and colours; anything else is an injection
_OWN_SEQUENCES = re.compile(r"\x1b\[[0-9;:]*[mH]")


def _evil(seq: str) -> str:
    return f"Ann{seq}Lee"


def _multi(kept: str) -> str:
    """What a multi-line field keeps of a sequence: a line break where a one-line field has a space."""
    return kept.replace(" ", "\n")


def _no_controls(text: str, *, layout: str = "\n") -> bool:
    return not any(ch not in layout for ch in _CONTROL.findall(text))


# --- on the way in --------------------------------------------------------------------------


@pytest.mark.parametrize("seq, kept", SEQUENCES)
def test_clean_text_strips_the_sequence(seq, kept):
    assert clean_text(_evil(seq)) == f"Ann{kept}Lee"
    assert clean_text(f"a{seq}\tb\nc", multiline=True) == f"a{_multi(kept)}\tb\nc"
    assert clean_text("tab\tand\nbreak") == "tab and break"


def test_contact_add_on_the_cli_stores_the_name_clean(crm, db_url):
    """Every row of SEQUENCES, in one database per backend (each row reads back its own contact)."""
    for seq, kept in PAIRS:
        added = crm.json("contact", "add", "--first", _evil(seq), "--last", "Lee", "--title", _evil(seq),
                         "--field", f"shoe={_evil(seq)}")
        [(first, full, title, custom)] = _rows(db_url, f"SELECT first_name, full_name, title, custom FROM contacts "
                                                       f"WHERE id = {int(added['id'])}")
        assert (first, full, title) == (f"Ann{kept}Lee", f"Ann{kept}Lee Lee", f"Ann{kept}Lee"), repr(seq)
        custom = custom if isinstance(custom, dict) else json.loads(custom)
        assert custom == {"shoe": f"Ann{_multi(kept)}Lee"}, repr(seq)  # a custom field may hold several lines


def _contact(s, actor, now, text):
    c = contacts.create_contact(s, data={"first_name": "x", "emails": ["x@example.com"]}, actor=actor, now=now)
    c = contacts.update_contact(s, contact_id=c.id, changes={"first_name": text, "last_name": text, "title": text,
                                                            "custom": {text: text}}, actor=actor, now=now)
    return [c.first_name, c.last_name, c.title, *c.custom.keys()], [*c.custom.values()]


def _company(s, actor, now, text):
    c = companies.create_company(s, data={"name": "x"}, actor=actor, now=now)
    c = companies.update_company(s, company_id=c.id, changes={"name": text, "industry": text, "size": "1",
                                                             "notes": text, "address": text}, actor=actor, now=now)
    return [c.name, c.industry], [c.notes, c.address]


def _deal(s, actor, now, text):
    d = deals.create_deal(s, data={"title": "x", "amount": "1"}, actor=actor, now=now)
    return [deals.update_deal(s, deal_id=d.id, changes={"title": text}, actor=actor, now=now).title], []


def _task(s, actor, now, text):
    t = tasks.create_task(s, data={"title": text, "notes": text}, actor=actor, now=now)
    return [t.title], [t.notes]


def _activity(s, actor, now, text):
    c = contacts.create_contact(s, data={"first_name": "x"}, actor=actor, now=now)
    a, _ = activities.log_activity(s, data={"kind": "note", "contact_id": c.id, "subject": text, "body": text,
                                         "outcome": text}, actor=actor, now=now)
    return [a.subject, a.outcome], [a.body]


def _pipeline(s, actor, now, text):
    p = pipelines.create_pipeline(s, name=text, actor=actor, now=now)
    stage = pipelines.update_stage(s, stage_id=p.stages[0].id, name=f"s{text}", actor=actor, now=now,
                                   version=p.stages[0].version)
    return [p.name, stage.name, pipelines.add_lost_reason(s, name=text, actor=actor, now=now)[-1]], []


def _user(s, actor, now, text):
    return [users.create_user(s, data={"login": "bob", "name": text}, actor=actor, now=now).name], []


def _view(s, actor, now, text):
    v = views.create_view(s, data={"name": text, "entity": "contact", "query": text}, actor=actor, now=now)
    return [v.name, v.query], []


# each way a text field is written by a service: returns (one-line values, multi-line values)
WRITERS = [pytest.param(w, id=w.__name__.strip("_")) for w in
           (_contact, _company, _deal, _task, _activity, _pipeline, _user, _view)]


@pytest.mark.parametrize("writer", WRITERS)
def test_services_store_every_text_field_clean(db, actor, now, writer):
    for seq, kept in PAIRS:
        with db.write() as s:
            one_line, multi_line = writer(s, actor, now, _evil(seq))
            s.rollback()  # each sequence on a fresh slate: names must not clash
        for value in one_line:
            assert value.removeprefix("s") == f"Ann{kept}Lee", (seq, value)
        for value in multi_line:
            assert value == f"Ann{_multi(kept)}Lee", (seq, value)


@pytest.mark.parametrize("seq, kept", SEQUENCES)
def test_a_company_domain_is_cleaned_before_it_is_checked(db, actor, now, seq, kept):
    with db.write() as s:
        if " " in kept:
            with pytest.raises(InvalidInput, match="invalid domain"):
                companies.create_company(s, data={"name": "Acme", "domain": f"acme{seq}.com"}, actor=actor, now=now)
        else:
            made = companies.create_company(s, data={"name": "Acme", "domain": f"acme{seq}.com"}, actor=actor, now=now)
            assert made.domain == f"acme{kept}.com"


def _rows(db_url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_import_csv_stores_every_value_clean(crm, db_url, tmp_path):
    path = tmp_path / "evil.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Name", "Email", "Title", "Company"])
        for i, (seq, _kept) in enumerate(PAIRS):
            out.writerow([f"Ann{seq}x Lee{i}", f"a{i}@example.com", _evil(seq), f"Acme{seq}{i}"])
    crm.ok("import", "contacts", str(path))
    rows = _rows(db_url, "SELECT c.first_name, c.last_name, c.title, co.name FROM contacts c "
                         "JOIN companies co ON co.id = c.company_id ORDER BY c.id")
    assert len(rows) == len(PAIRS)
    for i, ((seq, kept), (first, last, title, company)) in enumerate(zip(PAIRS, rows)):
        assert (first, last) == (f"Ann{kept}x", f"Lee{i}"), seq
        assert title == f"Ann{kept}Lee" and company == f"Acme{kept}{i}", seq


def test_import_create_users_stores_the_new_users_names_clean(crm, db_url, tmp_path):
    path = tmp_path / "owners.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["Email", "Owner"])
        for i, (seq, _kept) in enumerate(PAIRS):
            out.writerow([f"a{i}@example.com", f"Bob{seq}{i} Lee"])
    crm.ok("import", "contacts", str(path), "--create-users")
    names = [name for (name,) in _rows(db_url, "SELECT name FROM users WHERE login <> 'ann' ORDER BY id")]
    assert names == [" ".join(f"Bob{kept}{i} Lee".split()) for i, (_seq, kept) in enumerate(PAIRS)]


# vCard lines end at CR or LF and cannot hold either inside a value
VCARD_SEQUENCES = [p for p in SEQUENCES if p.id != "carriage-return"]


def _vcard_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")


@pytest.mark.parametrize("seq, kept", VCARD_SEQUENCES)
def test_import_vcard_stores_every_value_clean(crm, db_url, tmp_path, seq, kept):
    path = tmp_path / "evil.vcf"
    path.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\n"
                    f"N:{_vcard_text(f'Lee{seq}')};{_vcard_text(f'Ann{seq}x')};;;\r\n"
                    f"FN:{_vcard_text(f'Ann{seq}x Lee{seq}')}\r\nTITLE:{_vcard_text(_evil(seq))}\r\n"
                    "EMAIL:ann@example.com\r\nEND:VCARD\r\n", encoding="utf-8", newline="")
    crm.ok("import", "contacts", str(path))
    [(first, last, title)] = _rows(db_url, "SELECT first_name, last_name, title FROM contacts")
    assert (first, last, title) == (f"Ann{kept}x", f"Lee{kept}", f"Ann{kept}Lee")


@pytest.mark.slow
def test_a_binary_vcard_prints_one_clear_line(tmp_path):
    """vobject logged each line of it (96 lines, raw bytes and ESC included) through a stderr
    handler of its own; the import then said it imported 0 rows. The import runs in a process of
    its own (a logging handler writes to the process's real stderr); the database is made in this one."""
    db_path, path = tmp_path / "crm.db", tmp_path / "binary.vcf"
    path.write_bytes(bytes(range(256)) * 4 + b"\x1b[2J\x1b]0;pwned\x07\n" * 20)
    Crm(f"sqlite:///{db_path}").ok("init")
    crm = [sys.executable, "-m", "crm_tui", "--db", f"sqlite:///{db_path}", "--user", "ann"]
    run = subprocess.run([*crm, "import", "contacts", str(path)], capture_output=True)
    out = (run.stdout + run.stderr).decode("utf-8", "replace")
    assert run.returncode != 0 and b"\x1b" not in run.stdout + run.stderr
    [line] = out.splitlines()  # one line, naming the file and what is wrong with it
    assert line.startswith(f"error: {path.name} ") and ("not a text file" in line or "vCard" in line), line


# --- on the way out: a value written by direct SQL ------------------------------------------


def _plant(db_url: str, contact_id: int, text: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE contacts SET first_name = :t, last_name = :t, full_name = :t, title = :t "
                                 "WHERE id = :id"), {"t": text, "id": contact_id})
    finally:
        engine.dispose()


def _skip_nul_on_postgres(db_url: str, seq: str) -> None:
    if "\x00" in seq and db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL text cannot hold NUL: no database can be planted with it")


@pytest.mark.parametrize("seq, kept", SEQUENCES)
def test_cli_neutralises_a_value_planted_by_sql(crm, db_url, seq, kept):
    _skip_nul_on_postgres(db_url, seq)
    added = crm.json("contact", "add", "--first", "Ann", "--email", "ann@example.com")
    _plant(db_url, added["id"], _evil(seq))
    for args in (("contact", "list"), ("contact", "show", str(added["id"]))):
        shown = crm.ok(*args).stdout
        assert _no_controls(shown) and "Ann" in shown, (args, shown)
    raw = crm.ok("contact", "list", "--json").stdout
    assert _no_controls(raw) and json.loads(raw)["items"][0]["full_name"] == _evil(seq)  # escaped, kept as stored
    error = crm.fails("contact", "show", f"nobody{seq}")  # an error quoting it
    assert _no_controls(error.stderr)


@pytest.mark.parametrize("seq, kept", SEQUENCES)
def test_the_merge_question_neutralises_a_planted_value(crm, db_url, seq, kept):
    """click writes a prompt itself, past the console."""
    _skip_nul_on_postgres(db_url, seq)
    a = crm.json("contact", "add", "--first", "Ann", "--email", "a@example.com", "--title", "CTO")
    b = crm.json("contact", "add", "--first", "Ann", "--email", "b@example.com", "--title", "CEO")
    _plant(db_url, b["id"], _evil(seq))
    result = crm.runner.invoke(app, ["--db", db_url, "--user", "ann", "contact", "merge", str(a["id"]),
                                     str(b["id"]), "--ask"], input="a\na\na\ny\n")
    assert result.exit_code == 0, result.output
    assert "keep a (CTO) or b (Ann" in result.stdout and _no_controls(result.stdout)


def _terminal_output(app) -> str:
    """What the app would write to the terminal for the whole screen now."""
    update = app.screen._compositor.render_update(full=True)
    return update.render_segments(app.console)


@pytest.mark.parametrize("seq, kept", SEQUENCES)
@pytest.mark.parametrize("where", ["contacts-list", "contact-detail"])
async def test_tui_neutralises_a_value_planted_by_sql(sqlite_db, actor_sqlite, now, where, seq, kept):
    with sqlite_db.write() as s:
        added = contacts.create_contact(s, data={"first_name": "Ann", "emails": ["ann@example.com"]},
                                        actor=actor_sqlite, now=now)
    _plant(str(sqlite_db.engine.url), added.id, _evil(seq))
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        if where == "contact-detail":
            await app.push_screen(ContactDetailScreen(added.id))
            await settle(app, pilot)
        sent = _terminal_output(app)
        assert "Ann" in sent
        assert _no_controls(_OWN_SEQUENCES.sub("", sent))


def test_printable_keeps_text_and_layout():
    assert printable("Ann Lee\tCTO\nAcme") == "Ann Lee\tCTO\nAcme"
    assert printable("a\tb\nc", layout=False) == "abc"
    assert printable("Zoë 李 😀") == "Zoë 李 😀"
