"""The worker runs the periodic jobs without any request (SPEC C7, C8): an unanswered prescription
expires and frees its seat when `pdi worker` ticks, in a committed database of the run's kind."""

from datetime import timedelta

import pytest
from sqlmodel import select

from app.core.config import get_settings
from app.core.db import PdiSession
from app.core.time import today
from app.jobs import periodic_jobs
from app.outbox.models import Change
from app.pathways.models import Pathway
from app.webhooks.worker import Worker
from tests import factories

pytestmark = pytest.mark.slow


def cursor_of(session, pathway_id: int) -> int:
    statement = select(Change.cursor).where(Change.kind == "pathway", Change.entity_id == str(pathway_id))
    return session.exec(statement).first() or 0


def test_the_worker_expires_unanswered_prescriptions_and_tells_the_feed(world):
    with PdiSession(world.engine, expire_on_commit=False) as session:
        this_year = today().year
        convention = factories.convention(
            session,
            start_on=today().replace(month=1, day=1) - timedelta(days=400),
            end_on=today().replace(month=12, day=31),
            years={this_year - 1: {"places": 2}, this_year: {"places": 2}},
        )
        unanswered = factories.pathway(session, convention_id=convention.id, prescribed_on=today() - timedelta(days=45))
        recent = factories.pathway(session, convention_id=convention.id, prescribed_on=today() - timedelta(days=2))
        session.commit()
        before = cursor_of(session, unanswered.id)

    settings = get_settings()
    worker = Worker(engine=world.engine, settings=settings, jobs=periodic_jobs(settings))  # as `pdi worker` runs it
    assert "expire_prescriptions" in [job.name for job in worker.jobs]
    worker.run_due_jobs()

    with PdiSession(world.engine) as session:
        assert session.get(Pathway, unanswered.id).status == "expired"
        assert session.get(Pathway, recent.id).status == "prescribed"
        assert cursor_of(session, unanswered.id) > before
