"""The change feed's capture is installed by whoever makes sessions, never by an import: a script
that writes through a service without installing it is refused at its first write, and with
`install_feed_capture()` its write is in the feed. Each case runs in a fresh interpreter that
never imports app.models (the tests' own process has the capture installed by conftest)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A pathway prescribed through the service, as a script would, inside a transaction rolled back
# at the end: it prints what it saw (the feed rows it added, the pathways it wrote).
SCRIPT = """
import json, sys
from sqlalchemy import func, select

from app.conventions.models import Convention
from app.core.caller import CLI
from app.core.changes import FeedCaptureMissing
from app.core.config import get_settings
from app.core.db import PdiSession
from app.core.engines import make_engine
from app.outbox.models import Change
from app.pathways.models import Pathway
from app.pathways.schemas import PathwayCreate
from app.pathways.service import create_pathway

if sys.argv[1] == "installed":
    from app.outbox.capture import install_feed_capture

    install_feed_capture()

engine = make_engine(get_settings().database_url)
with engine.connect() as connection:
    outer = connection.begin()
    session = PdiSession(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    active = select(Convention).where(Convention.status == "active").order_by(Convention.id)
    convention = session.scalars(active).first()
    count = lambda model: session.scalar(select(func.count()).select_from(model))
    before = {"pathways": count(Pathway), "feed": count(Change)}
    body = PathwayCreate(
        convention_id=convention.id, beneficiary_ref="RSA-CAPTURE-1", prescribed_on=convention.start_on
    )
    try:
        pathway = create_pathway(session=session, caller=CLI, body=body)
        session.commit()
        outcome, feed_row = "written", session.scalar(
            select(func.count()).where(Change.kind == "pathway", Change.entity_id == str(pathway.id))
        )
    except FeedCaptureMissing as refused:
        session.rollback()
        outcome, feed_row = f"refused: {refused}", None
    after = {"pathways": count(Pathway), "feed": count(Change)}
    session.close()
    outer.rollback()
print(json.dumps({
    "outcome": outcome,
    "pathways written": after["pathways"] - before["pathways"],
    "feed rows added": after["feed"] - before["feed"],
    "feed row of the pathway": feed_row,
    "imported app.models": "app.models" in sys.modules,
}))
"""


def write_a_pathway(capture: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, capture],
        cwd=ROOT,
        env=os.environ.copy(),  # conftest's: DATABASE_URL is the tests' database
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_write_without_the_capture_is_refused_and_writes_nothing(engine):
    seen = write_a_pathway("not installed")

    assert seen["outcome"].startswith("refused: this process writes through PdiSession without the change feed's")
    assert "install_feed_capture()" in seen["outcome"]
    assert seen["pathways written"] == 0
    assert seen["feed rows added"] == 0
    assert seen["imported app.models"] is False


def test_a_write_with_the_capture_installed_is_in_the_feed(engine):
    seen = write_a_pathway("installed")

    assert seen["outcome"] == "written"
    assert seen["pathways written"] == 1
    assert seen["feed row of the pathway"] == 1
    assert seen["feed rows added"] >= 1
    assert seen["imported app.models"] is False


def test_once_installed_the_refusal_is_gone_from_every_flush():
    """The refusal's listeners are removed, not bypassed: an installed process pays nothing for them."""
    from sqlalchemy import event

    from app.core import changes
    from app.core.db import PdiSession

    assert not event.contains(PdiSession, "before_flush", changes._refuse_flush)
    assert not event.contains(PdiSession, "do_orm_execute", changes._refuse_bulk_write)
