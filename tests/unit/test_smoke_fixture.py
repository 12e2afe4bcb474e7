from crm_tui.services import pipelines


def test_fresh_database_has_default_pipeline(db):
    with db.read() as session:
        pipeline = pipelines.default_pipeline(session)
    assert [s.name for s in pipeline.stages] == ["New", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
