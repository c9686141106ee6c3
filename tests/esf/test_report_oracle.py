"""The SQL of the ESF+ report against the Python reference (tests/esf/reference.py) on random
conventions, persons, pathways, participant records and follow-ups."""

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.conventions.models import ConventionYear
from app.core.caller import CLI
from app.esf.records.models import (
    ENTRY_FIELDS,
    Answer,
    Education,
    FollowUp,
    FollowUpSituation,
    LabourStatus,
    PathwayParticipant,
)
from app.esf.reporting.indicators import ESF_CODES
from app.esf.reporting.report import esf_report
from app.pathways.models import Pathway
from app.reference.exit_reasons import EXIT_REASONS
from tests import factories
from tests.esf import reference

START, END = date(2019, 1, 1), date(2021, 6, 30)
CHOICES = {
    "labour_status": list(LabourStatus),
    "education": list(Education),
    **{name: list(Answer) for name in ENTRY_FIELDS[2:]},
}


def _random_world(session, rng: random.Random) -> list[int]:
    action = factories.action(session)
    conventions = []
    for _ in range(3):
        years = {}
        for year in (2019, 2020, 2021):
            if rng.random() < 0.8:
                fse = rng.choice([0, 0, 1000, 2500])
                years[year] = {"places": 5, "budget": 5000, "fse_amount": fse}
        conventions.append(
            factories.convention(session, action_id=action.id, start_on=START, end_on=END, years=years).id
        )
    persons = [factories.beneficiary(session).id for _ in range(14)]
    for person in persons:
        sex, birth_year = rng.choice(["F", "M", "X", None]), rng.choice([None, 1950, 1962, 1991, 2001, 2003, 2004])
        territory = rng.choice(["rural", "urban", None])
        for convention_id in rng.sample(conventions, rng.randint(0, 3)):
            day = START + timedelta(days=rng.randint(0, 500))
            for _ in range(rng.randint(1, 3)):
                if day > END:
                    break
                fields = {"prescribed_on": day, "sex": sex, "birth_year": birth_year, "territory": territory}
                kind = rng.random()
                if kind < 0.1:
                    fields["cancelled_on"] = day + timedelta(days=rng.randint(0, 5))
                elif kind < 0.9:
                    entered = day + timedelta(days=rng.randint(0, 10))
                    fields["entered_on"] = entered
                    if rng.random() < 0.75:
                        fields["exited_on"] = entered + timedelta(days=rng.choice([0, 30, 120, 200, 364]))
                        fields["exit_reason"] = rng.choice(EXIT_REASONS).code
                pathway = factories.pathway(session, convention_id=convention_id, beneficiary_id=person, **fields)
                _add_records(session, rng, pathway)
                if pathway.exited_on is None and pathway.entered_on is not None:
                    break  # an open pathway: the person's last in this convention
                day = (pathway.exited_on or pathway.cancelled_on or day) + timedelta(days=rng.randint(1, 90))
    session.commit()
    return conventions


def _add_records(session, rng: random.Random, pathway: Pathway) -> None:
    if rng.random() < 0.8:
        record = {name: (None if rng.random() < 0.12 else rng.choice(values)) for name, values in CHOICES.items()}
        record["qualification_gained"] = rng.choice([None, True, False])
        record["labour_status_on_leaving"] = rng.choice([None, "job_searching", "inactive"])
        session.add(PathwayParticipant(pathway_id=pathway.id, **record))
    if pathway.exited_on is not None and rng.random() < 0.6:
        session.add(
            FollowUp(
                pathway_id=pathway.id,
                observed_on=pathway.exited_on + timedelta(days=rng.randint(150, 240)),
                situation=rng.choice(list(FollowUpSituation)),
                improved_situation=rng.choice([None, True, False]),
            )
        )
    session.flush()


def _rows(session, model) -> list[dict]:
    return [dict(row._mapping) for row in session.execute(select(*model.__table__.c))]


@pytest.mark.parametrize("seed", range(6))
def test_the_report_agrees_with_the_reference(session, seed):
    rng = random.Random(seed)
    conventions = _random_world(session, rng)
    pathways = [row for row in _rows(session, Pathway) if row["convention_id"] in conventions]
    participants = {row["pathway_id"]: row for row in _rows(session, PathwayParticipant)}
    follow_ups = {row["pathway_id"]: row for row in _rows(session, FollowUp)}
    lines = _rows(session, ConventionYear)
    counted = 0
    for year in (2019, 2020, 2021):
        report = esf_report(session=session, caller=CLI, year=year)
        by_id = {block["convention_id"]: block for block in report["conventions"]}
        cofunded = sorted(
            line["convention_id"]
            for line in lines
            if line["convention_id"] in conventions and line["year"] == year and line["fse_amount"] > 0
        )
        assert sorted(set(by_id) & set(conventions)) == cofunded
        for convention_id in cofunded:
            expected = reference.convention_counts(
                year=year,
                pathways=[p for p in pathways if p["convention_id"] == convention_id],
                participants=participants,
                follow_ups=follow_ups,
            )
            block = by_id[convention_id]
            assert block["incomplete"] == expected["incomplete"]
            zero = {"F": 0, "M": 0, "X": 0, "total": 0}
            got = {row["indicator"]: row["values"] for row in block["rows"]}
            assert got == {code: expected["counts"].get(code, zero) for code in ESF_CODES}, (seed, year, convention_id)
            counted += sum(values["total"] for values in got.values())
    assert counted  # the world drawn had something to count
