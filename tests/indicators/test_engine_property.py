"""The SQL engine against the slow Python reference (tests/indicators/reference.py) on random
conventions, pathways and queries. Dates come from a short span around two year ends, with
the boundaries drawn often, so that off-by-one days show up."""

import math
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.esf.records.models import FollowUp, FollowUpSituation
from app.indicators.engine.compute import compute, compute_for_years
from app.indicators.engine.framework import GROUP_KEYS, INDICATOR_CODES, Scope
from app.indicators.engine.pathway_query import PATHWAY_FIGURES
from app.indicators.engine.totals import GroupTotals, values_from
from app.pathways.models import ActivityRecord, BeneficiaryEngagement, Diagnostic, Pathway
from app.periods.models import Period, PeriodStatus
from app.reference.diagnostic_dimensions import DIMENSION_CODES, MARKS
from app.reference.exit_reasons import EXIT_REASONS
from app.reference.indicators import BARRIER_RATE_PREFIX
from tests import factories
from tests.indicators import reference

pytestmark = pytest.mark.slow

FIRST_DAY, LAST_DAY = date(2019, 10, 1), date(2021, 3, 31)
BOUNDARIES = [
    date(2019, 12, 31),
    date(2020, 1, 1),
    date(2020, 2, 29),
    date(2020, 3, 1),
    date(2020, 6, 30),
    date(2020, 7, 1),
    date(2020, 12, 31),
    date(2021, 1, 1),
    date(2021, 1, 2),
    date(2019, 10, 1),
]
YEARS = (2019, 2020, 2021)

days_ = st.one_of(st.sampled_from(BOUNDARIES), st.dates(FIRST_DAY, LAST_DAY))
# SPEC C11: hours a week, halves so that sums are exact and a total may equal a target.
WEEKLY_HOURS = st.none() | st.sampled_from([0.0, 2.5, 7.5, 15.0, 20.0])
TARGETS = st.sampled_from([0.0, 7.5, 10.0, 15.0, 35.0])
euros = st.none() | st.integers(0, 300_000).map(lambda cents: Decimal(cents) / 100)


@st.composite
def convention_lines(draw, start_on: date, end_on: date):
    lines = {}
    for year in range(start_on.year, end_on.year + 1):
        if not draw(st.booleans()) and lines:
            continue  # a convention may lack some yearly lines
        budget = draw(euros)
        fse = (
            None
            if budget is None
            else draw(st.none() | st.integers(0, int(budget * 100)).map(lambda c: Decimal(c) / 100))
        )
        lines[year] = {
            "places": draw(st.sampled_from([None, 0, 1, 2, 3, 5])),
            "months_per_place": draw(st.sampled_from([1, 3, 12])),
            "budget": budget,
            "fse_amount": fse,
            "hours_threshold": draw(st.none() | st.sampled_from([5, 10, 20])),
            "targets": draw(st.none() | st.fixed_dictionaries({"persons_present": st.integers(1, 9).map(float)})),
            "weekly_hours": draw(WEEKLY_HOURS),
        }
    return lines


# A decision history (SPEC C7): how the operator answered, and how a prescription ended.
answers = st.sampled_from(["none", "accepted", "refused", "withdrawn", "accepted_withdrawn", "expired"])
# A diagnostic of an entered pathway: (days after the entry, its marks).
diagnostics_ = st.tuples(
    st.integers(0, 60),
    st.dictionaries(st.sampled_from(DIMENSION_CODES), st.sampled_from(MARKS), min_size=1, max_size=5),
)


@st.composite
def scenarios(draw):
    conventions = []
    for _ in range(draw(st.integers(1, 3))):
        start_on, end_on = sorted([draw(days_), draw(days_)])
        conventions.append(
            {
                "action": draw(st.integers(0, 1)),
                "operator": draw(st.integers(0, 1)),
                "start_on": start_on,
                "end_on": end_on,
                "years": draw(convention_lines(start_on, end_on)),
            }
        )
    territories = draw(st.lists(st.sampled_from(["urban", "rural", None]), min_size=1, max_size=4))
    # A chain: one beneficiary's successive, non-overlapping pathways in one convention.
    chains = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(territories) - 1),
                st.integers(0, len(conventions) - 1),
                st.lists(days_, min_size=1, max_size=5, unique=True).map(sorted),
                st.lists(
                    st.tuples(
                        st.sampled_from(["exited", "exited", "open", "prescribed", "cancelled"]),
                        st.integers(0, 20),  # entry delay
                        st.sampled_from([r.code for r in EXIT_REASONS]),
                        st.none() | st.sampled_from([0.0, 4.5, 5.0, 10.0, 25.0]),
                        answers,
                        st.integers(0, 40),  # days from the prescription to the answer
                        st.none() | diagnostics_,
                        WEEKLY_HOURS,
                    ),
                    min_size=3,
                    max_size=3,
                ),
            ),
            min_size=2,
            max_size=10,
        )
    )
    activity = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(conventions) - 1), days_, st.sampled_from(reference.METRICS), st.integers(0, 5)
            ),
            max_size=4,
        )
    )
    consolidated = draw(st.sets(st.sampled_from(YEARS)))
    # Lowered targets of some persons (by their index), each until a day or for good.
    engagements = draw(
        st.dictionaries(st.integers(0, len(territories) - 1), st.tuples(TARGETS, st.none() | days_), max_size=3)
    )
    return {
        "action_hours": (draw(WEEKLY_HOURS), draw(WEEKLY_HOURS)),
        "engagements": engagements,
        "families_of_actions": (0, draw(st.integers(0, 1))),
        "conventions": conventions,
        "territories": territories,
        "chains": chains,
        "activity": activity,
        "consolidated": consolidated,
    }


def _plus(day: date, days: int) -> date:
    return date.fromordinal(day.toordinal() + days)


def _answered(pathway: dict, answer: str, answer_delay: int) -> dict:
    """The pathway with its decision history; an answer comes after the prescription and, on a
    pathway entered or ended, no later than its entry or its end."""
    prescribed_on = pathway["prescribed_on"]
    last = pathway["entered_on"] or pathway["cancelled_on"]
    answered_on = _plus(prescribed_on, answer_delay)
    if last is not None:
        answered_on = min(answered_on, last)
    if pathway["entered_on"] is not None or pathway["cancelled_on"] is None:
        # Entered or still waiting: only an acceptance can have come.
        if answer in ("accepted", "accepted_withdrawn"):
            pathway |= {"decision": "accepted", "decided_on": answered_on}
        return pathway
    if answer == "refused":
        return pathway | {
            "decision": "refused",
            "decided_on": pathway["cancelled_on"],
            "refusal_reason": "not_reachable",
            "ended_as": "refused",
        }
    if answer == "accepted_withdrawn":
        return pathway | {"decision": "accepted", "decided_on": answered_on, "ended_as": "withdrawn"}
    if answer in ("withdrawn", "expired"):
        return pathway | {"ended_as": answer}
    if answer == "accepted":
        return pathway | {"decision": "accepted", "decided_on": answered_on}
    return pathway  # cancelled


def chain_pathways(dates, kinds):
    """Pathways from sorted distinct dates: (entered, exited) pairs, so stays never overlap; each
    with a decision history and, when entered, maybe a diagnostic (as `diagnostic`)."""
    pathways, index = [], 0
    for kind, delay, reason, hours, answer, answer_delay, diagnostic, weekly in kinds:
        if index >= len(dates):
            break
        day = dates[index]
        base = {
            "prescribed_on": day,
            "entered_on": None,
            "exited_on": None,
            "exit_reason": None,
            "hours": hours,
            "cancelled_on": None,
            "decision": None,
            "decided_on": None,
            "refusal_reason": None,
            "ended_as": None,
            "weekly_hours": weekly,
        }
        if kind == "exited" and index + 1 < len(dates):
            base |= {
                "prescribed_on": date.fromordinal(day.toordinal() - delay),
                "entered_on": day,
                "exited_on": dates[index + 1],
                "exit_reason": reason,
            }
            index += 2
        elif kind == "cancelled" and index + 1 < len(dates):
            base |= {"cancelled_on": dates[index + 1], "hours": None}
            index += 2
        elif kind == "prescribed":
            base["hours"] = None
            pathways.append(_answered(base, answer, answer_delay))
            break  # an open prescription ends the chain
        else:  # open (or an exit/cancellation without a second date)
            base |= {"prescribed_on": date.fromordinal(day.toordinal() - delay), "entered_on": day}
            pathways.append(_with_diagnostic(_answered(base, answer, answer_delay), diagnostic))
            break
        pathways.append(_with_diagnostic(_answered(base, answer, answer_delay), diagnostic))
    return pathways


def _with_diagnostic(pathway: dict, diagnostic) -> dict:
    if pathway["entered_on"] is None or diagnostic is None:
        return pathway
    after_entry, marks = diagnostic
    return pathway | {"diagnostic": {"assessed_on": _plus(pathway["entered_on"], after_entry), "marks": marks}}


def store(session, scenario) -> reference.Data:
    data = reference.Data()
    families = [factories.family(session) for _ in range(2)]
    actions = [
        factories.action(session, family_id=families[f].id, weekly_hours=hours)
        for f, hours in zip(scenario["families_of_actions"], scenario["action_hours"], strict=True)
    ]
    operators = [factories.operator(session) for _ in range(2)]
    for action in actions:
        data.actions[action.id] = {
            "code": action.code,
            "family": next(f.code for f in families if f.id == action.family_id),
            "weekly_hours": action.weekly_hours,
        }
    conventions = []
    for spec in scenario["conventions"]:
        convention = factories.convention(
            session,
            action_id=actions[spec["action"]].id,
            operator_id=operators[spec["operator"]].id,
            start_on=spec["start_on"],
            end_on=spec["end_on"],
            years=spec["years"],
        )
        conventions.append(convention)
        data.conventions[convention.id] = {
            "action_id": convention.action_id,
            "operator_id": convention.operator_id,
            "start_on": spec["start_on"],
            "end_on": spec["end_on"],
        }
        for year, line in spec["years"].items():
            data.convention_years.append({"convention_id": convention.id, "year": year, **line})
    beneficiaries = [factories.beneficiary(session) for _territory in scenario["territories"]]
    rows = []
    assessed = []  # (pathway row, diagnostic)
    for who, where, dates, kinds in scenario["chains"]:
        for pathway in chain_pathways(dates, kinds):
            diagnostic = pathway.pop("diagnostic", None)
            pathway |= {
                "beneficiary_id": beneficiaries[who].id,
                "person_key": beneficiaries[who].id,
                "convention_id": conventions[where].id,
                "territory": scenario["territories"][who],
            }
            data.pathways.append(pathway)
            rows.append(Pathway(**pathway))
            if diagnostic is not None:
                assessed.append((rows[-1], diagnostic))
                data.diagnostics.append(
                    {"convention_id": pathway["convention_id"], "territory": pathway["territory"], **diagnostic}
                )
    for where, on, metric, quantity in scenario["activity"]:
        data.activity.append({"convention_id": conventions[where].id, "on": on, "metric": metric, "quantity": quantity})
        rows.append(
            ActivityRecord(convention_id=conventions[where].id, recorded_on=on, metric=metric, quantity=quantity)
        )
    for year in YEARS:
        status = PeriodStatus.consolidated if year in scenario["consolidated"] else PeriodStatus.open
        session.merge(Period(year=year, status=status))
    data.consolidated = set(scenario["consolidated"])
    session.add_all(rows)
    session.flush()
    for who, (target, until) in scenario["engagements"].items():
        person = beneficiaries[who].id
        data.engagements[person] = (target, until)
        session.add(
            BeneficiaryEngagement(beneficiary_id=person, weekly_hours_target=target, reason="other", until=until)
        )
    session.add_all(
        Diagnostic(pathway_id=row.id, assessed_on=diagnostic["assessed_on"], **diagnostic["marks"])
        for row, diagnostic in assessed
    )
    # Six-month follow-ups (SPEC C9) on most exited pathways, their situation drawn from the
    # pathway's own dates so that every situation, and no follow-up, occur.
    situations = [*FollowUpSituation, None]
    for pathway, row in zip(data.pathways, (row for row in rows if isinstance(row, Pathway))):
        if row.exited_on is None:
            continue
        situation = situations[(row.exited_on.toordinal() + row.prescribed_on.toordinal()) % len(situations)]
        pathway["follow_up"] = situation and situation.value
        if situation is not None:
            session.add(FollowUp(pathway_id=row.id, observed_on=row.exited_on, situation=situation))
    session.flush()
    return data


@st.composite
def queries(draw):
    mode = draw(st.sampled_from(["year", "range", "years"]))
    as_of = draw(st.one_of(days_, st.just(LAST_DAY)))
    if mode == "year":
        year = draw(st.sampled_from(YEARS))
        period = {"start": date(year, 1, 1), "end": date(year, 12, 31)}
    elif mode == "range":
        start, end = sorted([draw(days_), draw(days_)])
        period = {"start": start, "end": end}
    else:
        period = {"years": draw(st.lists(st.sampled_from(YEARS), min_size=1, max_size=3, unique=True))}
    group_by = tuple(draw(st.lists(st.sampled_from(GROUP_KEYS), unique=True, max_size=3)))
    filters = {}
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        name = draw(st.sampled_from(["action", "family", "operator", "convention", "territory"]))
        filters[name] = draw(st.sampled_from(["urban", "rural"]) if name == "territory" else st.integers(0, 2))
    # Some indicators only: the engine computes no more than they need, and the same rows exist.
    indicators = draw(st.none() | st.lists(st.sampled_from(INDICATOR_CODES), min_size=1, max_size=4, unique=True))
    return {"mode": mode, "as_of": as_of, "group_by": group_by, "filters": filters, "indicators": indicators, **period}


def scope_of(data: reference.Data, filters: dict) -> reference.Query:
    """Always limited to this example's actions: the database also holds the seed catalogue."""
    codes = sorted(a["code"] for a in data.actions.values())
    actions = (codes[filters["action"] % len(codes)],) if "action" in filters else tuple(codes)
    families = sorted({a["family"] for a in data.actions.values()})
    operators = sorted({c["operator_id"] for c in data.conventions.values()})
    conventions = sorted(data.conventions)
    return reference.Query(
        actions=actions,
        family=families[filters["family"] % len(families)] if "family" in filters else None,
        operator_id=operators[filters["operator"] % len(operators)] if "operator" in filters else None,
        convention_id=conventions[filters["convention"] % len(conventions)] if "convention" in filters else None,
        territory=filters.get("territory"),
    )


def close(engine_value, reference_value) -> bool:
    if engine_value is None or reference_value is None:
        return engine_value is None and reference_value is None
    return math.isclose(engine_value, reference_value, rel_tol=1e-9, abs_tol=1e-9)


def row_order(group_by, group: dict) -> tuple:
    return tuple((group[key] is not None, group[key] if group[key] is not None else 0) for key in group_by)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(scenario=scenarios(), asked=st.lists(queries(), min_size=1, max_size=3))
def test_sql_engine_agrees_with_the_python_reference(session, scenario, asked):
    savepoint = session.begin_nested()
    try:
        data = store(session, scenario)
        for query in asked:
            check(session, data, query)
    finally:
        savepoint.rollback()
        session.expunge_all()


def check(session, data: reference.Data, query: dict) -> None:
    ref_scope = scope_of(data, query["filters"])
    scope = Scope(
        actions=ref_scope.actions,
        family=ref_scope.family,
        operator_id=ref_scope.operator_id,
        convention_id=ref_scope.convention_id,
        territory=ref_scope.territory,
    )
    group_by = query["group_by"]
    if query["mode"] == "years":
        got = compute_for_years(
            session=session,
            years=query["years"],
            as_of=query["as_of"],
            scope=scope,
            group_by=group_by,
            indicators=query["indicators"],
        )
        expected = reference.indicators_for_years(
            data, years=query["years"], as_of=query["as_of"], query=ref_scope, group_by=group_by
        )
        check_rows_of_the_bilan(session, query, scope, got)
        if "year" not in group_by:
            group_by = (*group_by, "year")
    else:
        got = compute(
            session=session,
            start=query["start"],
            end=query["end"],
            as_of=query["as_of"],
            scope=scope,
            group_by=group_by,
            indicators=query["indicators"],
        )
        expected = reference.indicators(
            data, start=query["start"], end=query["end"], as_of=query["as_of"], query=ref_scope, group_by=group_by
        )
    context = f"query={query} scope={scope}"
    expected = sorted(expected, key=lambda row: row_order(group_by, row[0]))
    assert [row.group for row in got] == [row[0] for row in expected], context
    for row, (group, values, consolidated, targets) in zip(got, expected):
        if query["indicators"] is not None:
            values = {code: values[code] for code in query["indicators"]}
            if targets is not None:
                targets = {code: target for code, target in targets.items() if code in query["indicators"]}
        differing = {
            code: (row.values[code], values[code]) for code in values if not close(row.values[code], values[code])
        }
        assert not differing, f"{context} group={group}: (engine, reference) {differing}"
        assert set(row.values) == set(values)
        assert row.consolidated == consolidated, f"{context} group={group}"
        assert row.targets == targets, f"{context} group={group}"


def check_rows_of_the_bilan(session, query: dict, scope: Scope, every_row) -> None:
    """The bilan's way (`every_group=False`): the rows it gets agree with the full ones, and a
    row it does not get is one whose asked values are those of nothing, as the bilan reads it."""
    rows = compute_for_years(
        session=session,
        years=query["years"],
        as_of=query["as_of"],
        scope=scope,
        group_by=query["group_by"],
        indicators=query["indicators"],
        every_group=False,
    )
    full = {tuple(sorted(row.group.items())): row for row in every_row}
    codes = query["indicators"] or INDICATOR_CODES
    nothing = values_from(GroupTotals(), codes)
    got = {tuple(sorted(row.group.items())): row for row in rows}
    assert set(got) <= set(full), f"query={query}: rows the full query has not"
    # A territory's row carries its group's convention and activity figures unsplit (the same on
    # each territory's row), and the bilan never groups by territory: a territory row the bilan's
    # way leaves out is nothing in its figures of pathways and diagnostics only.
    of_pathways_only = {
        code
        for code in codes
        if (code in PATHWAY_FIGURES or code.startswith(BARRIER_RATE_PREFIX))
        and code not in ("occupancy_rate", "cost_per_person", "cost_per_dynamic_exit")
    }
    for key, row in full.items():
        values = got[key].values if key in got else nothing
        compared = of_pathways_only if key not in got and "territory" in query["group_by"] else codes
        differing = {
            code: (values[code], row.values[code]) for code in compared if not close(values[code], row.values[code])
        }
        assert not differing, f"query={query} group={row.group} present={key in got}: {differing}"
