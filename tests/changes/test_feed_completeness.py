"""The feed misses no kind of write (SPEC C3): a client that kept `next` and polled holds exactly
what a replay from the start gives, after single writes, a batch, the seed loader, the demo's bulk
load and retention's bulk erasure alike; and a bulk statement that did not note its changes is
refused before it can move data behind the feed's back."""

from datetime import date

import pytest
from sqlalchemy import delete, insert, update

from app.core.caller import CLI
from app.outbox.capture import WATCHED, UnnotedBulkWrite
from app.pathways.retention import apply_retention
from seed.demo import generate_demo
from seed.loader import load_catalogue
from tests import factories
from tests.changes.test_feed import feed, latest
from tests.pathways.helpers import API, pathway_body


def poll(client, headers, held: dict, after: int) -> int:
    """What a client that keeps `next` does: apply the new items to what it holds."""
    while True:
        page = feed(client, headers, after=after, limit=1000)
        held.update(latest(page["items"]))
        if not page["items"]:
            return page["next"]
        after = page["next"]


def same_as_replay(client, headers, held: dict) -> None:
    replayed: dict = {}
    poll(client, headers, replayed, 0)
    strip = lambda items: {key: (item["state"], item["data"]) for key, item in items.items()}  # noqa: E731
    assert strip(held) == strip(replayed)


@pytest.mark.slow
def test_a_poller_holds_what_a_replay_gives_after_every_kind_of_write(client, session, admin):
    held: dict = {}
    cursor = poll(client, admin, held, 0)

    # The demo: rows written in bulk (COPY on PostgreSQL, executemany on SQLite).
    generate_demo(session=session)
    session.commit()
    cursor = poll(client, admin, held, cursor)
    same_as_replay(client, admin, held)

    # Single writes through the API, one per kind the feed serves, and a delete.
    site = client.post(f"{API}/operators/1/sites", json={"name": "Antenne", "commune": "Sablé"}, headers=admin)
    assert site.status_code == 201, site.text
    assert client.post(f"{API}/families", json={"code": "feed-all", "name": "F"}, headers=admin).status_code == 201
    assert client.patch(f"{API}/families/feed-all", json={"name": "F2"}, headers=admin).status_code == 200
    assert client.delete(f"{API}/families/feed-all", headers=admin).status_code == 204
    convention = factories.convention(session, years={2020: {"places": 5}})
    session.commit()
    body = pathway_body(convention.id, "RSA-FEED-1", prescribed_on="2020-03-10")
    created = client.post(f"{API}/pathways", json=body, headers=admin)
    assert created.status_code == 201, created.text
    cursor = poll(client, admin, held, cursor)
    same_as_replay(client, admin, held)

    # A batch of exits (one statement for all of them).
    pathway_id = created.json()["id"]
    entry = client.post(f"{API}/pathways/{pathway_id}/entry", json={"entered_on": "2020-04-01"}, headers=admin)
    assert entry.status_code == 200, entry.text
    batch = [{"pathway_id": pathway_id, "exited_on": "2020-05-01", "exit_reason": "training"}]
    assert client.post(f"{API}/exit-records", json=batch, headers=admin).json()["counts"]["created"] == 1
    cursor = poll(client, admin, held, cursor)
    same_as_replay(client, admin, held)

    # The seed loader run again over a catalogue staff have changed.
    renamed = client.patch(f"{API}/families/evaluation", json={"name": "Renamed by staff"}, headers=admin)
    assert renamed.status_code == 200, renamed.text
    cursor = poll(client, admin, held, cursor)
    load_catalogue(session=session)
    session.commit()
    cursor = poll(client, admin, held, cursor)
    same_as_replay(client, admin, held)

    # Retention erases insee_code on many pathways in one UPDATE: pollers must be told.
    report = apply_retention(session=session, caller=CLI, ended_before=date(2020, 1, 1), dry_run=False)
    session.commit()
    assert report.pathways_detached > 0
    cursor = poll(client, admin, held, cursor)
    same_as_replay(client, admin, held)


@pytest.mark.parametrize("model", WATCHED, ids=lambda model: model.__tablename__)
def test_a_bulk_write_that_did_not_note_its_changes_is_refused(session, model):
    table = model.__table__
    key = next(iter(table.primary_key.columns))
    statements = [update(table).values({key: key}), delete(table).where(key == -1), insert(table)]
    for statement in statements:
        with pytest.raises(UnnotedBulkWrite):
            session.execute(statement)
    # Noted, it runs (the writer then owns the notes, as retention and the exit batches do).
    session.execute(delete(table).where(key == -1).execution_options(feed_noted=True))
