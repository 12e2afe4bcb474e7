"""Bulk change benchmark (issue 20): a bulk owner change of 20k deals, a typed custom field set on
20k deals, and a tag added to 100k contacts through services/bulk_edit.py, each beside the same change in hand-written SQL in the same
run (the UPDATE with its version bump, and one audit row per record: what the service writes).

    .venv/bin/python bench/bench_bulk.py [--samples 3] [--db URL] [--keep DIR]

It builds its own SQLite file (20k open deals, 100k contacts) in a temp dir, or uses an empty
database at --db (PostgreSQL: postgresql+psycopg://...). Target: ≤ 3x the raw SQL.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm_tui.db import open_database  # noqa: E402
from crm_tui.services import bulk_edit, fields, pipelines, users  # noqa: E402
from crm_tui.services.bulk_edit import Change, Selection  # noqa: E402

DEALS, CONTACTS = 20_000, 100_000
TARGET_RATIO = 3.0
TS = "'2026-01-01 00:00:00'"


def build(db) -> tuple:
    with db.write() as session:
        actor = users.actor_for(session, login="bench")
        users.create_user(session, data={"login": "other", "role": "sales"}, actor=actor)
        pipeline = pipelines.default_pipeline(session)
        stage = pipeline.stages[0].id
        series = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})"
                  if db.engine.dialect.name == "sqlite" else "WITH n(i) AS (SELECT generate_series(1, {n}))")
        false = "0" if db.engine.dialect.name == "sqlite" else "false"
        conn = session.connection()
        conn.exec_driver_sql(f"""{series.format(n=DEALS)}
            INSERT INTO deals (version, created_at, updated_at, title, title_key, pipeline_id, stage_id, owner_id,
                               amount_minor, currency, status, stage_entered_at, archived, custom)
            SELECT 1, {TS}, {TS}, 'Deal ' || i, 'deal ' || i, {pipeline.id}, {stage}, {actor.user_id}, 1000, 'USD',
                   'open', {TS}, {false}, '{{}}' FROM n""")
        conn.exec_driver_sql(f"""{series.format(n=CONTACTS)}
            INSERT INTO contacts (version, created_at, updated_at, first_name, last_name, full_name, sort_name,
                                  lifecycle, owner_id, archived, search_text, custom)
            SELECT 1, {TS}, {TS}, 'P' || i, 'Q', 'P' || i || ' Q', 'p' || i || ' q', 'lead', {actor.user_id},
                   {false}, 'p' || i, '{{}}' FROM n""")
        other = users.actor_for(session, login="other")
        fields.add_field(session, kind="deal", key="region", type="choice", options=["emea", "amer"], actor=actor)
    return actor, other


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def raw_owner(db, actor, owner_id: int) -> None:
    with db.write() as s:
        s.execute(text("""INSERT INTO audit_events (at, actor_id, actor, entity, entity_id, action, field,
                                                    old_value, new_value)
                          SELECT :at, :aid, :login, 'deal', id, 'update', 'owner_id', CAST(owner_id AS VARCHAR),
                                 :new FROM deals WHERE archived = :f AND owner_id <> :owner"""),
                  {"at": "2026-01-02 00:00:00", "aid": actor.user_id, "login": actor.login, "new": str(owner_id),
                   "owner": owner_id, "f": False})
        s.execute(text("UPDATE deals SET owner_id = :owner, version = version + 1, updated_at = :at "
                       "WHERE archived = :f AND owner_id <> :owner"),
                  {"owner": owner_id, "at": "2026-01-02 00:00:00", "f": False})


def raw_field(db, actor, value: str) -> None:
    """The custom field set by hand: an audit row per deal (old value read from the row), then the
    UPDATE of the JSON with the version bump."""
    sqlite = db.engine.dialect.name == "sqlite"
    current = "json_extract(custom, '$.\"region\"')" if sqlite else "(custom ->> 'region')"
    differs = f"{current} IS NOT :v" if sqlite else f"{current} IS DISTINCT FROM :v"
    new = ("json_set(custom, '$.\"region\"', :v)" if sqlite
           else "CAST(CAST(custom AS jsonb) || jsonb_build_object('region', CAST(:v AS text)) AS json)")
    with db.write() as s:
        s.execute(text(f"""INSERT INTO audit_events (at, actor_id, actor, entity, entity_id, action, field,
                                                     old_value, new_value)
                           SELECT :at, :aid, :login, 'deal', id, 'update', 'custom.region', {current}, :v
                           FROM deals WHERE archived = :f AND {differs}"""),
                  {"at": "2026-01-02 00:00:00", "aid": actor.user_id, "login": actor.login, "v": value, "f": False})
        s.execute(text(f"UPDATE deals SET custom = {new}, version = version + 1, updated_at = :at "
                       f"WHERE archived = :f AND {differs}"),
                  {"v": value, "at": "2026-01-02 00:00:00", "f": False})


def raw_tag(db, actor, name: str) -> None:
    with db.write() as s:
        tag_id = s.execute(text("INSERT INTO tags (name) VALUES (:n) RETURNING id"), {"n": name}).scalar_one()
        s.execute(text("""INSERT INTO audit_events (at, actor_id, actor, entity, entity_id, action, field, new_value)
                          SELECT :at, :aid, :login, 'contact', id, 'tag', 'tag', :n FROM contacts
                          WHERE archived = :f AND NOT EXISTS (SELECT 1 FROM contact_tags t
                                WHERE t.contact_id = contacts.id AND t.tag_id = :t)"""),
                  {"at": "2026-01-02 00:00:00", "aid": actor.user_id, "login": actor.login, "n": name, "t": tag_id,
                   "f": False})
        s.execute(text("INSERT INTO contact_tags (contact_id, tag_id) SELECT id, :t FROM contacts WHERE archived = :f"),
                  {"t": tag_id, "f": False})
        s.execute(text("UPDATE contacts SET version = version + 1, updated_at = :at WHERE archived = :f"),
                  {"at": "2026-01-02 00:00:00", "f": False})


def service(db, actor, selection: Selection, change: Change) -> int:
    with db.write() as s:
        return bulk_edit.apply(s, selection=selection, changes=[change], actor=actor).changed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--db", default=None)
    parser.add_argument("--keep", default=None)
    args = parser.parse_args()
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="bench-bulk-"))
    url = args.db or f"sqlite:///{tmp / 'bench.db'}"
    db = open_database(url, create=True)
    actor, other = build(db)
    deals = Selection("deal", all_matching=True)
    contacts = Selection("contact", all_matching=True)
    results = {}
    svc, raw = [], []
    for _ in range(args.samples):
        # the service gives all 20k to `other`, the raw SQL gives them back: each changes every deal
        svc.append(timed(lambda: changed_set(db, actor, deals, other.user_id)))
        raw.append(timed(lambda: raw_owner(db, actor, actor.user_id)))
    results["owner of 20k deals"] = (svc, raw)
    svc, raw = [], []
    for _ in range(args.samples):
        # the service sets region=emea on all 20k, the raw SQL region=amer: each changes every deal
        svc.append(timed(lambda: changed_field(db, actor, deals, "emea")))
        raw.append(timed(lambda: raw_field(db, actor, "amer")))
    results["custom field, 20k deals"] = (svc, raw)
    svc, raw = [], []
    for i in range(args.samples):
        svc.append(timed(lambda: service(db, actor, contacts, Change("add_tag", value=f"svc{i}"))))
        raw.append(timed(lambda: raw_tag(db, actor, f"raw{i}")))
    results["tag on 100k contacts"] = (svc, raw)
    print(f"bulk changes on {db.engine.dialect.name} ({args.samples} samples, median ms)")
    worst = 0.0
    for name, (s_ms, r_ms) in results.items():
        s_med, r_med = statistics.median(s_ms), statistics.median(r_ms)
        ratio = s_med / r_med
        worst = max(worst, ratio)
        print(f"  {name:24} service {s_med:8.1f}  raw SQL {r_med:8.1f}  ratio {ratio:4.2f}x")
    print(f"worst ratio {worst:.2f}x (target ≤ {TARGET_RATIO:.0f}x): {'ok' if worst <= TARGET_RATIO else 'MISSED'}")
    db.dispose()


def changed_set(db, actor, selection, owner_id: int) -> None:
    n = service(db, actor, selection, Change("set", "owner", owner_id))
    assert n == DEALS, n


def changed_field(db, actor, selection, value: str) -> None:
    n = service(db, actor, selection, Change("set", "custom.region", value))
    assert n == DEALS, n


if __name__ == "__main__":
    main()
