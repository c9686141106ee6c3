"""`pdi demo` (seed/demo/: plan.py plans the rows, writer.py writes them): deterministic,
idempotent, and its rows obey SPEC's rules on input.

Whether its bilan shows the document's figures is tested in tests/indicators/test_bilan_document.py.
"""

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from app.catalogue.models import Action
from app.conventions.models import Convention
from app.core.config import get_settings
from app.core.security import pseudonymise
from app.pathways.models import ActivityRecord, Beneficiary, Pathway
from app.periods.models import Period
from app.reference.exit_reasons import EXIT_REASONS_BY_CODE
from seed.demo import generate_demo, read_catalogue, writer
from seed.demo.plan import plan_demo
from tests.factories import row_counts

pytestmark = pytest.mark.slow

EDITION = date(2020, 12, 31)
MONTH = 30.44


def counts(session: Session) -> dict[str, int]:
    return row_counts(session, Beneficiary, Pathway, ActivityRecord, Period)


def fingerprint(session: Session, after: dict[str, int]) -> tuple[list, list]:
    """Every generated pathway with its beneficiary, and every activity record, without ids."""
    pathways = session.exec(
        select(
            Beneficiary.ref_hash,
            Pathway.birth_year,
            Pathway.sex,
            Pathway.insee_code,
            Pathway.territory,
            Pathway.household,
            Pathway.self_employed,
            Pathway.convention_id,
            Pathway.site_id,
            Pathway.prescribed_on,
            Pathway.entered_on,
            Pathway.planned_end_on,
            Pathway.exited_on,
            Pathway.exit_reason,
            Pathway.hours,
            Pathway.cancelled_on,
            Pathway.cancel_reason,
        )
        .join(Beneficiary, Beneficiary.id == Pathway.beneficiary_id)
        .where(Pathway.id > after["pathway"])
        .order_by(Pathway.id)
    ).all()
    activity = session.exec(
        select(ActivityRecord.convention_id, ActivityRecord.recorded_on, ActivityRecord.metric, ActivityRecord.quantity)
        .where(ActivityRecord.id > after["activity"])
        .order_by(ActivityRecord.id)
    ).all()
    return [tuple(row) for row in pathways], [tuple(row) for row in activity]


def last_ids(session: Session) -> dict[str, int]:
    return {
        "pathway": session.exec(select(func.coalesce(func.max(Pathway.id), 0))).one(),
        "activity": session.exec(select(func.coalesce(func.max(ActivityRecord.id), 0))).one(),
    }


def test_two_generations_give_the_same_rows(session):
    prints = []
    for _ in range(2):
        savepoint = session.begin_nested()
        before = last_ids(session)
        generate_demo(session=session)
        prints.append(fingerprint(session, before))
        savepoint.rollback()
    assert len(prints[0][0]) > 5000
    assert prints[0] == prints[1]


def test_a_second_run_inserts_nothing(session):
    before = counts(session)
    first = generate_demo(session=session)
    after = counts(session)
    assert after["Pathway"] > before["Pathway"] and after["Beneficiary"] > before["Beneficiary"]
    second = generate_demo(session=session)
    assert "nothing inserted" in second and "nothing inserted" not in first
    assert counts(session) == after


def test_scale_repeats_every_person_with_distinct_beneficiaries(session):
    plan = plan_demo(read_catalogue(session))
    people = len(plan.people) + len(plan.prescriptions)
    pathways = sum(len(stays) for stays in plan.stays.values()) + len(plan.prescriptions)
    before = counts(session)
    generate_demo(session=session, scale=2)
    after = counts(session)
    assert after["Beneficiary"] - before["Beneficiary"] == 2 * people
    assert after["Pathway"] - before["Pathway"] == 2 * pathways
    last_ref = pseudonymise(f"DEMO-{2 * people}", secret=get_settings().secret_key)
    assert session.exec(select(Beneficiary.id).where(Beneficiary.ref_hash == last_ref)).first() is not None


def test_each_person_s_pathways_name_their_own_beneficiary(session):
    plan = plan_demo(read_catalogue(session))
    before = last_ids(session)
    generate_demo(session=session)
    beneficiary_ids = session.exec(select(Pathway.beneficiary_id).where(Pathway.id > before["pathway"])).all()
    pathways_per_beneficiary = Counter(Counter(beneficiary_ids).values())
    planned = Counter(len(person.stays) for person in plan.people) + Counter({1: len(plan.prescriptions)})
    assert max(planned) > 1  # some people go on from Depart'Parcours to another action
    assert pathways_per_beneficiary == planned


@pytest.mark.parametrize("pathways_per_write", [1, 10**9], ids=["a COPY per copy", "one COPY for both"])
def test_copies_written_together_or_apart_name_their_own_beneficiaries(session, monkeypatch, pathways_per_write):
    """The writer groups copies into one COPY per table (PATHWAYS_PER_WRITE): each copy's
    pathways must still name their own copy's people, whatever the grouping."""
    monkeypatch.setattr(writer, "PATHWAYS_PER_WRITE", pathways_per_write)
    plan = plan_demo(read_catalogue(session))
    before = last_ids(session)
    generate_demo(session=session, scale=2)
    rows = session.exec(
        select(Pathway.beneficiary_id, Beneficiary.ref_hash)
        .join(Beneficiary, Beneficiary.id == Pathway.beneficiary_id)
        .where(Pathway.id > before["pathway"])
    ).all()
    per_person = Counter(beneficiary_id for beneficiary_id, _ref in rows)
    planned = Counter(len(person.stays) for person in plan.people) + Counter({1: len(plan.prescriptions)})
    assert Counter(per_person.values()) == Counter({stays: 2 * count for stays, count in planned.items()})
    # The second copy's first person (numbered after every person of the first) has that
    # person's stays, as the first copy's first person has.
    people = len(plan.people) + len(plan.prescriptions)
    secret = get_settings().secret_key
    refs = {ref: beneficiary_id for beneficiary_id, ref in rows}
    first, second = (refs[pseudonymise(f"DEMO-{number}", secret=secret)] for number in (1, people + 1))
    assert per_person[first] == per_person[second] == len(plan.people[0].stays)


def test_the_rows_obey_the_rules_on_input(session):
    before = last_ids(session)
    generate_demo(session=session)
    conventions = {row.id: row for row in session.exec(select(Convention))}
    actions = {row.id: row for row in session.exec(select(Action))}
    action_of = {convention_id: actions[row.action_id] for convention_id, row in conventions.items()}
    pathways = session.exec(select(Pathway).where(Pathway.id > before["pathway"])).all()
    problems = []
    stays_by_person_and_convention: dict[tuple[int, int], list[tuple[date, date]]] = {}
    for pathway in pathways:
        convention, action = conventions[pathway.convention_id], action_of[pathway.convention_id]
        where = f"pathway {pathway.id} ({action.code})"
        dates = [pathway.prescribed_on, pathway.entered_on, pathway.exited_on, pathway.cancelled_on]
        if any(day is not None and day > EDITION for day in dates):
            problems.append(f"{where}: a date after {EDITION}")
        if pathway.cancelled_on is not None:
            if pathway.entered_on is not None or pathway.cancelled_on < pathway.prescribed_on:
                problems.append(f"{where}: cancelled but entered, or cancelled before its prescription")
            continue
        if pathway.entered_on is None:
            if pathway.exited_on is not None or pathway.prescribed_on < date(2020, 11, 1):
                problems.append(f"{where}: still waiting for an entry, but exited or prescribed long ago")
            continue
        if not convention.start_on <= pathway.entered_on <= convention.end_on:
            problems.append(f"{where}: entered outside its convention's dates")
        if not timedelta(days=3) <= pathway.entered_on - pathway.prescribed_on <= timedelta(days=62):
            problems.append(f"{where}: {pathway.entered_on - pathway.prescribed_on} between prescription and entry")
        if (pathway.exited_on is None) != (pathway.exit_reason is None) or (
            pathway.exit_reason is not None and pathway.exit_reason not in EXIT_REASONS_BY_CODE
        ):
            problems.append(f"{where}: exit {pathway.exited_on} with reason {pathway.exit_reason!r}")
        if pathway.exited_on is not None and pathway.exited_on < pathway.entered_on:
            problems.append(f"{where}: exited before its entry")
        if pathway.hours is not None and action.code != "ai-etti":
            problems.append(f"{where}: hours outside the AI/ETTI")
        end = pathway.exited_on or EDITION
        if action.code == "ai-etti" and pathway.hours is not None and end >= date(2020, 1, 1):
            problems.append(f"{where}: hours on a pathway present in 2020 (the document's NC)")
        if action.min_duration_months and pathway.exited_on is not None:
            length = (pathway.exited_on - pathway.entered_on).days
            # AI/ETTI: early exits (a job found, a move) from 3 months; 2020: lockdowns, up to 3 months more
            shortest = 3 * MONTH if action.code == "ai-etti" else action.min_duration_months * MONTH
            longest = action.max_duration_months * MONTH + 8 + (92 if end.year == 2020 else 0)
            if not shortest - 3 <= length <= longest:
                problems.append(f"{where}: a stay of {length} days")
        stays_by_person_and_convention.setdefault((pathway.beneficiary_id, pathway.convention_id), []).append(
            (pathway.entered_on, end)
        )
        if action.code == "public-travailleur-non-salarie" and not pathway.self_employed:
            problems.append(f"{where}: a travailleur non salarié who is not self-employed")
        if action.code == "public-seul-sans-enfant" and pathway.household != "single_no_child":
            problems.append(f"{where}: household {pathway.household}")
    for (person, convention_id), stays in stays_by_person_and_convention.items():
        stays.sort()
        if any(later[0] <= earlier[1] for earlier, later in zip(stays, stays[1:], strict=False)):
            problems.append(f"beneficiary {person}: overlapping stays in convention {convention_id}")
    assert problems == []
    assert len(pathways) > 5000


def test_the_co_funded_actions_get_a_filled_esf_report_the_same_every_time(session):
    """SPEC C9: participants and follow-ups for the FSE co-funded conventions, with a fixed seed."""
    from app.core.caller import CLI
    from app.esf.reporting.report import esf_report

    reports = []
    for _ in range(2):
        savepoint = session.begin_nested()
        generate_demo(session=session)
        reports.append(esf_report(session=session, caller=CLI, year=2020))
        savepoint.rollback()
    assert reports[0] == reports[1]
    total = {row["indicator"]: row["values"]["total"] for row in reports[0]["total"]["rows"]}
    assert len(reports[0]["conventions"]) >= 4
    assert total["participants"] > 100
    assert 0 < reports[0]["total"]["incomplete"] < total["participants"] / 10
    for indicator in (
        "long_term_unemployed",
        "isced_0_2",
        "disability",
        "rural",
        "employed_on_leaving",
        "job_searching_on_leaving",
        "qualification_on_leaving",
        "employed_6_months",
        "improved_situation_6_months",
    ):
        assert total[indicator] > 0, indicator
    assert total["unemployed"] >= total["long_term_unemployed"]
