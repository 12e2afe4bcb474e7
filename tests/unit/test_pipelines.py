"""Pipelines service: default stages, new pipelines, adding, reordering, tuning and deleting stages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.errors import InvalidInput
from crm_tui.models import AuditEvent, Deal, Stage
from crm_tui.services import deals, pipelines

DEFAULT_NAMES = ["New", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]


def _names(pipeline) -> list[str]:
    return [s.name for s in pipeline.stages]


def _by_name(pipeline, name):
    return next(s for s in pipeline.stages if s.name == name)


def _counts(db) -> tuple[int, ...]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Stage, Deal, AuditEvent))


def test_default_pipeline_and_a_new_one_with_default_stages(db, actor, now):
    with db.read() as s:
        default = pipelines.default_pipeline(s)
    assert default.is_default and _names(default) == DEFAULT_NAMES
    assert [s.probability for s in default.stages] == [10, 25, 50, 75, 100, 0]
    assert [s.kind for s in default.stages] == ["open"] * 4 + ["won", "lost"]
    assert [s.position for s in default.stages] == list(range(6))

    with db.write() as s:
        partners = pipelines.create_pipeline(s, name="Partners", actor=actor, now=now)
    assert not partners.is_default and _names(partners) == DEFAULT_NAMES
    assert {st.pipeline_id for st in partners.stages} == {partners.id}
    with db.read() as s:
        assert [p.name for p in pipelines.list_pipelines(s)] == ["Sales", "Partners"]
        assert pipelines.resolve_pipeline(s, "partners").id == partners.id
        assert pipelines.default_pipeline(s).id == default.id

    before = _counts(db)
    for name, stages, message in (
        ("PARTNERS", None, "a pipeline named 'PARTNERS' already exists"),
        ("Odd", [{"name": "Only", "kind": "open"}, {"name": "Won", "kind": "won"}], "exactly one won and one lost"),
        ("Odd", [{"name": "A"}, {"name": "a"}, {"name": "W", "kind": "won"}, {"name": "L", "kind": "lost"}],
         "stage names in a pipeline must differ"),
        ("Odd", [{"name": "A", "probability": 101}, {"name": "W", "kind": "won"}, {"name": "L", "kind": "lost"}],
         "between 0 and 100"),
    ):
        with pytest.raises(InvalidInput, match=message):
            with db.write() as s:
                pipelines.create_pipeline(s, name=name, stages=stages, actor=actor, now=now)
        assert _counts(db) == before, message


def test_add_move_and_update_stages(db, actor, now):
    with db.write() as s:
        pipeline_id = pipelines.default_pipeline(s).id
        demo = pipelines.add_stage(s, pipeline_id=pipeline_id, spec={"name": "Demo", "probability": 60},
                                   actor=actor, now=now)
        pipelines.add_stage(s, pipeline_id=pipeline_id, spec={"name": "Intro"}, position=1, actor=actor, now=now)
    with db.read() as s:
        pipeline = pipelines.get_pipeline(s, pipeline_id=pipeline_id)
    # a new stage lands after the open stages, before Won and Lost, unless placed
    assert _names(pipeline) == ["New", "Intro", "Qualified", "Proposal", "Negotiation", "Demo", "Won", "Lost"]
    assert [s.position for s in pipeline.stages] == list(range(8))
    assert (demo.probability, demo.kind) == (60, "open")

    with db.write() as s:
        order = pipelines.move_stage(s, stage_id=_by_name(pipeline, "Negotiation").id, position=0, actor=actor,
                                     now=now)
    assert [st.name for st in order] == ["Negotiation", "New", "Intro", "Qualified", "Proposal", "Demo", "Won", "Lost"]
    with db.read() as s:
        stored = pipelines.get_pipeline(s, pipeline_id=pipeline_id)
        assert _names(stored) == [st.name for st in order]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "reorder")).one()
        assert (event.field, event.old_value, event.new_value) == ("position", "4", "0")

    qualified = _by_name(stored, "Qualified")
    with db.write() as s:
        tuned = pipelines.update_stage(s, stage_id=qualified.id, probability=40, rotting_days=10, actor=actor, now=now)
    assert (tuned.probability, tuned.rotting_days, tuned.version) == (40, 10, qualified.version + 1)
    with db.write() as s:
        cleared = pipelines.update_stage(s, stage_id=qualified.id, clear_rotting=True, actor=actor, now=now)
    assert cleared.rotting_days is None and cleared.probability == 40

    before = _counts(db)
    for call, message in (
        (lambda s: pipelines.move_stage(s, stage_id=_by_name(pipeline, "Won").id, position=0, actor=actor),
         "won and lost stages always come last"),
        (lambda s: pipelines.update_stage(s, stage_id=qualified.id, probability=150, actor=actor),
         "between 0 and 100"),
        (lambda s: pipelines.update_stage(s, stage_id=qualified.id, rotting_days=-1, actor=actor),
         "must not be negative"),
        (lambda s: pipelines.update_stage(s, stage_id=qualified.id, rotting_days=999_999_999, actor=actor),
         "at most 3650"),  # the board's rotting cut-off (now - days) would overflow a date
        (lambda s: pipelines.add_stage(s, pipeline_id=pipeline_id, spec={"name": "Idle", "rotting_days": 10**11},
                                       actor=actor), "at most 3650"),
        (lambda s: pipelines.update_stage(s, stage_id=qualified.id, name="new", actor=actor), "already exists"),
        (lambda s: pipelines.add_stage(s, pipeline_id=pipeline_id, spec={"name": "demo"}, actor=actor),
         "already exists"),
        (lambda s: pipelines.add_stage(s, pipeline_id=pipeline_id, spec={"name": "Won2", "kind": "won"}, actor=actor),
         "new stages are open stages"),
    ):
        with pytest.raises(InvalidInput, match=message):
            with db.write() as s:
                call(s)
        assert _counts(db) == before, message
    with db.read() as s:
        assert _names(pipelines.get_pipeline(s, pipeline_id=pipeline_id)) == [st.name for st in order]


def test_delete_stage_moves_its_deals_with_an_audit_row_each(db, actor, now):
    with db.write() as s:
        pipeline = pipelines.default_pipeline(s)
        new, qualified = _by_name(pipeline, "New"), _by_name(pipeline, "Qualified")
        moving = [deals.create_deal(s, data={"title": f"D{i}", "stage_id": qualified.id}, actor=actor, now=now).id
                  for i in range(3)]
        staying = deals.create_deal(s, data={"title": "Stay"}, actor=actor, now=now).id
    before = _counts(db)
    with pytest.raises(InvalidInput, match="stage 'Qualified' has 3 deal\\(s\\); choose a stage"):
        with db.write() as s:
            pipelines.delete_stage(s, stage_id=qualified.id, actor=actor, now=now)
    with pytest.raises(InvalidInput, match="open stage"):
        with db.write() as s:
            pipelines.delete_stage(s, stage_id=qualified.id, move_to_stage_id=_by_name(pipeline, "Won").id,
                                   actor=actor, now=now)
    assert _counts(db) == before

    later = now + timedelta(days=1)
    with db.write() as s:
        moved = pipelines.delete_stage(s, stage_id=qualified.id, move_to_stage_id=new.id, actor=actor, now=later)
    assert moved == 3
    with db.read() as s:
        assert _names(pipelines.default_pipeline(s)) == ["New", "Proposal", "Negotiation", "Won", "Lost"]
        assert [st.position for st in pipelines.default_pipeline(s).stages] == list(range(5))
        rows = s.scalars(select(Deal).order_by(Deal.id)).all()
        assert [d.id for d in rows] == moving + [staying]  # every deal still exists
        for deal in rows:
            assert deal.stage_id == new.id
        for deal in rows[:3]:
            assert (deal.version, deal.stage_entered_at) == (2, later)
        assert (rows[3].version, rows[3].stage_entered_at) == (1, now)
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity == "deal", AuditEvent.action == "move")
                           .order_by(AuditEvent.entity_id)).all()
        assert [(e.entity_id, e.field, e.old_value, e.new_value, e.at) for e in events] == [
            (d, "stage_id", str(qualified.id), str(new.id), later) for d in moving]
        assert s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "stage",
                                                         AuditEvent.entity_id == qualified.id)).all() == ["delete"]


def test_won_lost_and_last_open_stage_cannot_be_deleted(db, actor, now):
    with db.write() as s:
        small = pipelines.create_pipeline(s, name="Small", actor=actor, now=now, stages=[
            {"name": "Only"}, {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}])
        default = pipelines.default_pipeline(s)
    before = _counts(db)
    for stage, message in ((_by_name(default, "Won"), "cannot be deleted"), (_by_name(default, "Lost"), "cannot"),
                           (_by_name(small, "Only"), "at least one open stage")):
        with pytest.raises(InvalidInput, match=message):
            with db.write() as s:
                pipelines.delete_stage(s, stage_id=stage.id, actor=actor, now=now)
    assert _counts(db) == before
    with db.write() as s:  # an empty open stage goes without a move_to
        assert pipelines.delete_stage(s, stage_id=_by_name(default, "Proposal").id, actor=actor, now=now) == 0
    with db.read() as s:
        assert "Proposal" not in _names(pipelines.default_pipeline(s))


def test_pipelines_are_read_with_their_stages_in_one_query(db, actor, now):
    """list_pipelines, get_pipeline and default_pipeline read a pipeline and its stages in one
    statement (the board opens with it); what they give is what the ORM objects say. The changes
    (create, rename, stages) answer with get_pipeline too, after their flush."""
    from sqlalchemy import event, update

    from crm_tui.models import Pipeline
    from crm_tui.models.schemas import PipelineRead, StageRead

    with db.write() as s:
        partners = pipelines.create_pipeline(s, name="Partners", actor=actor, now=now)
        pipelines.add_stage(s, pipeline_id=partners.id, spec={"name": "Demo", "probability": 60}, actor=actor, now=now)
        old = pipelines.create_pipeline(s, name="Old", actor=actor, now=now)
        s.execute(update(Pipeline).where(Pipeline.id == old.id).values(archived=True))
    statements: list[str] = []
    with db.read() as s:
        event.listen(s.connection(), "before_cursor_execute", lambda *args: statements.append(args[2]))
        found = {
            "listed": pipelines.list_pipelines(s),
            "all": pipelines.list_pipelines(s, include_archived=True),
            "one": [pipelines.get_pipeline(s, pipeline_id=partners.id)],
            "old": [pipelines.get_pipeline(s, pipeline_id=old.id)],
            "default": [pipelines.default_pipeline(s)],
        }
        assert len(statements) == len(found)  # one each
        orm = {p.id: PipelineRead.model_validate(p, from_attributes=True, update={"stages": [
            StageRead.model_validate(stage, from_attributes=True)
            for stage in s.scalars(select(Stage).where(Stage.pipeline_id == p.id).order_by(Stage.position, Stage.id))]})
            for p in s.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id))}
        with pytest.raises(pipelines.NotFound, match="no pipeline with id 999"):
            pipelines.get_pipeline(s, pipeline_id=999)
    assert found["all"] == list(orm.values()) and found["listed"] == [p for p in orm.values() if not p.archived]
    assert found["one"] == [orm[partners.id]] and found["old"] == [orm[old.id]]
    assert found["default"][0].name == "Sales" and found["default"] == [next(p for p in orm.values() if p.is_default)]
    assert [st.name for st in found["one"][0].stages] == ["New", "Qualified", "Proposal", "Negotiation", "Demo",
                                                         "Won", "Lost"]
