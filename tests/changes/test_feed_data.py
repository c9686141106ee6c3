"""Every feed item's `data` is exactly what the resource's GET shows the same caller (SPEC C3),
whichever way the feed builds it (app/pathways/column_reads.py for pathways): on random pathways
of every status, with and without their FSE records (SPEC C9), for every kind and every role that
sees it (admin, operator, portal, reader, anonymous)."""

import random
from datetime import date, timedelta

import pytest
from sqlmodel import select

from app.assessments.models import ActionAssessment
from app.auth.service import create_key
from app.core.caller import Role
from app.core.time import today
from app.esf.records.models import Answer, Education, LabourStatus, LabourStatusOnLeaving, PathwayParticipant
from app.esf.records.schemas import ParticipantRead
from app.pathways import column_reads
from app.pathways.models import Household, Sex
from app.pathways.schemas import PathwayRead
from app.reference.exit_reasons import EXIT_REASONS_BY_CODE
from app.reference.refusal_reasons import REFUSAL_REASON_CODES
from tests import factories
from tests.changes.test_feed import latest
from tests.pathways.helpers import API

pytestmark = pytest.mark.slow

STATUSES = ("prescribed", "waitlisted", "accepted", "active", "exited", "cancelled", "refused", "withdrawn", "expired")


def _maybe(rng: random.Random, value):
    return value if rng.random() < 0.6 else None


def random_pathway(rng: random.Random, *, convention_id: int, portal_key_id: int, first_day: date) -> dict:
    """The columns of a pathway in a random state that the table's constraints accept."""
    prescribed_on = first_day + timedelta(days=rng.randrange(200))
    later = lambda start, most=60: start + timedelta(days=rng.randrange(most))  # noqa: E731
    fields = {
        "convention_id": convention_id,
        "prescribed_on": prescribed_on,
        "created_by_key_id": portal_key_id if rng.random() < 0.5 else None,
        "birth_year": _maybe(rng, rng.randrange(1950, 2005)),
        "sex": _maybe(rng, rng.choice(list(Sex)).value),
        "insee_code": _maybe(rng, rng.choice(["72181", "72264", "2A004"])),
        "territory": _maybe(rng, rng.choice(["urban", "rural"])),
        "household": _maybe(rng, rng.choice(list(Household)).value),
        "self_employed": _maybe(rng, rng.random() < 0.5),
        "hours": rng.choice([None, 0.0, 12.0, 37.5, float(rng.randrange(500))]),
        # SPEC C11: the pathway's own, else its convention year's, else its action's.
        "weekly_hours": rng.choice([None, None, 0.0, 7.5, 20.0, 12.25]),
        "planned_end_on": None,
    }
    status = rng.choice(STATUSES)
    if status == "waitlisted":
        fields["waitlisted"] = True
    if status == "accepted":
        fields |= {"decision": "accepted", "decided_on": later(prescribed_on)}
        if rng.random() < 0.5:
            fields["appointment_on"] = later(fields["decided_on"])
    if status in ("active", "exited"):
        fields["entered_on"] = later(prescribed_on)
        if rng.random() < 0.5:
            fields["planned_end_on"] = later(fields["entered_on"], 300)
    if status == "exited":
        fields["exited_on"] = later(fields["entered_on"], 300)
        fields["exit_reason"] = rng.choice(sorted(EXIT_REASONS_BY_CODE))
    if status in ("cancelled", "withdrawn", "expired"):
        fields["cancelled_on"] = later(prescribed_on)
        fields["cancel_reason"] = rng.choice([None, "Déménagement", "Ne répond plus"])
        if status != "cancelled":
            fields["ended_as"] = status
    if status == "refused":
        day = later(prescribed_on)
        fields |= {
            "decision": "refused",
            "decided_on": day,
            "refusal_reason": rng.choice(REFUSAL_REASON_CODES),
            "refusal_comment": rng.choice([None, "Complet"]),
            "cancelled_on": day,
            "ended_as": "refused",
        }
    return fields


def random_participant(rng: random.Random, pathway_id: int) -> PathwayParticipant:
    answers = list(Answer)
    return PathwayParticipant(
        pathway_id=pathway_id,
        labour_status=_maybe(rng, rng.choice(list(LabourStatus))),
        education=_maybe(rng, rng.choice(list(Education))),
        disability=rng.choice([*answers, None]),
        third_country_national=rng.choice(answers),
        foreign_background=rng.choice(answers),
        minority=rng.choice(answers),
        homeless=rng.choice(answers),
        qualification_gained=rng.choice([None, True, False]),
        labour_status_on_leaving=rng.choice([None, *LabourStatusOnLeaving]),
    )


def random_world(session, rng: random.Random) -> dict:
    """Two operators, conventions running today and one ended, an assessment, random pathways;
    the keys of every role."""
    this_year = today().year
    operators = [factories.operator(session), factories.operator(session)]
    family = factories.family(session)
    action = factories.action(session, family_id=family.id, weekly_hours=rng.choice([None, 20.0, 3.5]))
    sites = [factories.site(session, operator_id=operator.id) for operator in operators]
    conventions = [
        factories.convention(
            session,
            action_id=action.id,
            operator_id=operator.id,
            start_on=date(this_year, 1, 1),
            end_on=date(this_year, 12, 31),
            years={
                this_year: {
                    "places": rng.randrange(1, 6),
                    "budget": 5000,
                    "fse_amount": rng.choice([0, 1000]),
                    "weekly_hours": rng.choice([None, 24.0, 6.5]),
                }
            },
            site_ids=[site.id],
        )
        for operator, site in zip(operators, sites, strict=True)
    ]
    conventions.append(factories.convention(session, action_id=action.id, operator_id=operators[0].id))  # ended
    session.add(ActionAssessment(action_id=action.id, year=2020, points=["Un point", "Un autre"]))
    portal_row, portal_key = create_key(session=session, role=Role.portal, name="feed portal")
    keys = {
        "admin": create_key(session=session, role=Role.admin, name="feed admin")[1],
        "operator": create_key(session=session, role=Role.operator, name="feed op", operator_id=operators[0].id)[1],
        "portal": portal_key,
        "reader": create_key(session=session, role=Role.reader, name="feed reader")[1],
    }
    session.flush()
    for _ in range(40):
        convention = rng.choice(conventions)
        fields = random_pathway(
            rng, convention_id=convention.id, portal_key_id=portal_row.id, first_day=date(this_year - 1, 6, 1)
        )
        beneficiary_id = factories.beneficiary(session).id
        pathway = factories.pathway(session, beneficiary_id=beneficiary_id, **fields)
        if rng.random() < 0.15:  # detached by retention
            pathway.beneficiary_id = None
            session.add(pathway)
        if rng.random() < 0.6:
            session.add(random_participant(rng, pathway.id))
    session.commit()
    return {name: {"Authorization": f"Bearer {key}"} for name, key in keys.items()} | {"anonymous": {}}


def resource(client, headers: dict, item: dict, lists: dict):
    """The resource's GET for a feed item, as that caller gets it (None for a 404). Sites and
    availability items have no GET of their own: their list's item (each list read once)."""
    kind, entity_id = item["kind"], item["id"]
    if kind in ("site", "availability"):
        if kind == "site":
            url = f"{API}/operators/{item['data']['operator_id']}/sites" if item["data"] else None
        else:
            url = f"{API}/availability"
        if url is None:
            return None
        if url not in lists:
            answer = client.get(url, params={"size": 500}, headers=headers)
            assert answer.status_code == 200, answer.text
            lists[url] = {str(row["id" if kind == "site" else "convention_id"]): row for row in answer.json()["items"]}
        return lists[url].get(entity_id)
    path = {
        "family": "families",
        "action": "actions",
        "operator": "operators",
        "convention": "conventions",
        "pathway": "pathways",
    }.get(kind)
    url = f"{API}/{path}/{entity_id}" if path else f"{API}/actions/{entity_id.replace('/', '/assessments/')}"
    answer = client.get(url, headers=headers)
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, (kind, entity_id, answer.text)
    return answer.json()


@pytest.mark.parametrize("seed", [1, 2])
def test_every_items_data_is_what_its_get_shows_each_role(client, session, seed):
    keys = random_world(session, random.Random(seed))
    seen_pathways = {}
    for role, headers in keys.items():
        items = list(latest(_whole_feed(client, headers)).values())
        kinds = {item["kind"] for item in items}
        expected = {"family", "action", "operator", "site", "availability"}
        expected |= {"convention", "assessment"} if role != "anonymous" else set()
        expected |= {"pathway"} if role in ("admin", "operator", "portal") else set()
        assert kinds == expected, role
        lists: dict = {}
        for item in items:
            shown = resource(client, headers, item, lists)
            if item["state"] == "deleted":
                assert item["data"] is None and shown is None, (role, item)
            else:
                assert item["data"] == shown, (role, item["kind"], item["id"])
        pathways = [item["data"] for item in items if item["kind"] == "pathway" and item["data"]]
        seen_pathways[role] = pathways
    # The random data reached what the rules tell apart: every status, the FSE block for admin
    # and operator only, the person's id for admin only, waiting-list places.
    statuses = {pathway["status"] for pathway in seen_pathways["admin"]}
    assert {"prescribed", "waitlisted", "active", "exited", "withdrawn"} <= statuses
    # `participant` where the pathway has an FSE record or an exit, never an object of nulls.
    with_record = set(session.exec(select(PathwayParticipant.pathway_id)))
    for pathway in seen_pathways["admin"] + seen_pathways["operator"]:
        expected = pathway["id"] in with_record or pathway["exit_reason"] is not None
        assert ("participant" in pathway) == expected, pathway
    assert any("participant" not in pathway for pathway in seen_pathways["admin"])
    assert any("participant" in pathway for pathway in seen_pathways["admin"])
    assert not any("participant" in pathway for pathway in seen_pathways["portal"])
    assert any(pathway["beneficiary_id"] is not None for pathway in seen_pathways["admin"])
    assert all(pathway["beneficiary_id"] is None for pathway in seen_pathways["operator"] + seen_pathways["portal"])
    assert any(pathway["waitlist_position"] for pathway in seen_pathways["admin"])
    assert 0 < len(seen_pathways["portal"]) < len(seen_pathways["admin"])
    assert 0 < len(seen_pathways["operator"]) < len(seen_pathways["admin"])


def _whole_feed(client, headers: dict) -> list[dict]:
    items, after = [], 0
    while True:
        answer = client.get(f"{API}/changes", params={"after": after, "limit": 13}, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        if not page["items"]:
            return items
        items += page["items"]
        after = page["next"]


def test_the_column_reads_know_every_field_of_the_pathways_read():
    """A field added to PathwayRead must be added to the feed's builders too (column_reads)."""
    assert (*column_reads.FIELDS, "participant") == tuple(PathwayRead.model_fields)
    assert set(column_reads.PARTICIPANT) | {"complete", "situation_on_leaving"} == set(ParticipantRead.model_fields)
