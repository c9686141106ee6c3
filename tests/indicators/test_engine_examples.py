"""The engine on cases computed by hand: the boundaries of the window and of the stay."""

from datetime import date

import pytest

from app.catalogue.models import Action
from app.indicators.engine.compute import compute, compute_for_years
from app.indicators.engine.framework import Scope
from app.periods.models import Period, PeriodStatus
from tests import factories


@pytest.fixture
def one_action(session):
    """A fresh action (nothing else in scope) and a helper computing its indicators."""
    action = factories.action(session)

    def indicators(*, start, end, as_of, group_by=(), **filters):
        return compute(
            session=session,
            start=start,
            end=end,
            as_of=as_of,
            scope=Scope(actions=(action.code,), **filters),
            group_by=group_by,
        )

    return action, indicators


def convention_for(session, action: Action, **fields):
    fields.setdefault("years", {2020: {"places": 1}})
    return factories.convention(session, action_id=action.id, **fields)


def test_a_pathway_exiting_on_the_last_day_of_the_window_counts_every_day(session, one_action):
    action, indicators = one_action
    convention = convention_for(
        session, action, end_on=date(2021, 12, 31), years={2020: {"places": 1}, 2021: {"places": 1}}
    )
    factories.pathway(
        session,
        convention_id=convention.id,
        entered_on=date(2020, 12, 1),
        exited_on=date(2020, 12, 31),
        exit_reason="training",
    )

    [year_2020, year_2021] = indicators(
        start=date(2020, 1, 1), end=date(2021, 12, 31), as_of=date(2021, 6, 30), group_by=["year"]
    )
    assert year_2020.group == {"year": 2020}
    assert year_2020.values["exits"] == 1
    assert year_2020.values["persons_present"] == 1
    assert year_2020.values["occupancy_rate"] == pytest.approx(31 / 366)  # 1 place all year 2020 (leap)
    assert year_2020.values["dynamic_exit_rate"] == 1.0
    assert year_2021.values["persons_present"] == 0
    assert year_2021.values["exits"] == 0
    assert year_2021.values["occupancy_rate"] == 0.0  # 1 place over 2021-01-01..06-30, nobody present


def test_a_pathway_entered_on_the_first_day_is_an_entry_of_that_window_only(session, one_action):
    action, indicators = one_action
    convention = convention_for(session, action, years={2019: {"places": 1}, 2020: {"places": 1}})
    factories.pathway(
        session, convention_id=convention.id, prescribed_on=date(2019, 12, 20), entered_on=date(2020, 1, 1)
    )

    [year_2019, year_2020] = indicators(
        start=date(2019, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 1, 1), group_by=["year"]
    )
    assert (year_2019.values["prescriptions"], year_2019.values["entries"], year_2019.values["persons_present"]) == (
        1,
        0,
        0,
    )
    assert (year_2020.values["prescriptions"], year_2020.values["entries"], year_2020.values["persons_present"]) == (
        0,
        1,
        1,
    )
    assert year_2020.values["mean_entry_delay_days"] == 12.0
    # W for 2020 is the single day 2020-01-01, 1 place: one day done of one day planned.
    assert year_2020.values["occupancy_rate"] == pytest.approx(1.0)


def test_a_pathway_entered_after_as_of_is_not_there_yet(session, one_action):
    action, indicators = one_action
    convention = convention_for(session, action)
    factories.pathway(session, convention_id=convention.id, prescribed_on=date(2020, 6, 1), entered_on=date(2020, 7, 1))

    [row] = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 6, 30))
    assert row.values["prescriptions"] == 1
    assert row.values["entries"] == 0
    assert row.values["persons_present"] == 0
    assert row.values["occupancy_rate"] == 0.0
    assert row.values["mean_entry_delay_days"] is None


def test_an_exit_after_as_of_is_not_known_the_pathway_counts_as_open(session, one_action):
    action, indicators = one_action
    convention = convention_for(session, action)
    factories.pathway(
        session,
        convention_id=convention.id,
        entered_on=date(2020, 3, 1),
        exited_on=date(2020, 9, 30),
        exit_reason="employment_cdi",
    )

    [row] = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 6, 30))
    assert row.values["exits"] == 0
    assert row.values["dynamic_exit_rate"] is None
    assert row.values["persons_present"] == 1
    # Stay 03-01..06-30 = 122 days; planned: 1 place over 01-01..06-30 = 182 days.
    assert row.values["occupancy_rate"] == pytest.approx(122 / 182)


def test_a_convention_starting_mid_year_plans_only_its_own_days(session, one_action):
    action, indicators = one_action
    convention = convention_for(
        session, action, start_on=date(2020, 7, 1), end_on=date(2021, 6, 30), years={2020: {"places": 2}}
    )
    factories.pathway(session, convention_id=convention.id, entered_on=date(2020, 7, 1))

    [row] = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 12, 31))
    # 184 days done of 2 places × 184 days (07-01..12-31).
    assert row.values["occupancy_rate"] == pytest.approx(0.5)
    assert row.values["places_funded"] == 2


def test_one_month_per_place_plans_a_twelfth_of_the_year(session, one_action):
    action, indicators = one_action
    convention = convention_for(session, action, years={2020: {"places": 12, "months_per_place": 1}})
    factories.pathway(
        session,
        convention_id=convention.id,
        entered_on=date(2020, 1, 1),
        exited_on=date(2020, 1, 31),
        exit_reason="completed",
    )

    [row] = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 12, 31))
    # 12 places × 1 month: 366 place-days planned over 2020, 31 done.
    assert row.values["occupancy_rate"] == pytest.approx(31 / 366)
    assert row.values["completion_rate"] == 1.0
    assert row.values["dynamic_exit_rate"] == 0.0


def test_budgets_costs_and_their_null_rules(session, one_action):
    action, indicators = one_action
    known = convention_for(session, action, years={2020: {"places": None, "budget": 1000, "fse_amount": 250}})
    for entered_on in (date(2020, 1, 1), date(2020, 2, 1)):
        factories.pathway(
            session,
            convention_id=known.id,
            entered_on=entered_on,
            exited_on=date(2020, 3, 1),
            exit_reason="employment_cdi" if entered_on.month == 1 else "dropped_out",
        )

    [row] = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 12, 31))
    assert row.values["places_funded"] is None  # every place count unknown
    assert row.values["occupancy_rate"] is None  # nothing planned
    assert (row.values["budget"], row.values["budget_fse"]) == (1000.0, 250.0)
    assert row.values["cost_per_person"] == 500.0
    assert row.values["cost_per_dynamic_exit"] == 1000.0
    assert row.values["durable_employment_rate"] == 0.5

    convention_for(session, action, years={2020: {"places": 3, "budget": None}})
    [row] = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 12, 31))
    assert row.values["places_funded"] == 3  # a null counts as 0 beside a known number
    assert row.values["budget"] is None  # one budget unknown: the sum is unknown
    assert row.values["budget_fse"] is None
    assert row.values["cost_per_person"] is None


def test_cancelled_prescriptions_count_as_prescriptions_only(session, one_action):
    action, indicators = one_action
    convention = convention_for(session, action)
    factories.pathway(
        session, convention_id=convention.id, prescribed_on=date(2020, 2, 1), cancelled_on=date(2020, 3, 1)
    )

    [row] = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 12, 31))
    assert (row.values["prescriptions"], row.values["entries"], row.values["persons_present"]) == (1, 0, 0)


def test_hours_threshold_is_null_without_hours_and_counts_people_over_the_threshold(session, one_action):
    action, indicators = one_action
    convention = convention_for(session, action, years={2020: {"places": 2, "hours_threshold": 150}})
    first = factories.pathway(session, convention_id=convention.id, entered_on=date(2020, 1, 1))

    def reached():
        [row] = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 12, 31))
        return row.values["hours_threshold_reached"]

    assert reached() is None
    first.hours = 149.5
    factories.pathway(session, convention_id=convention.id, entered_on=date(2020, 5, 1), hours=150)
    session.flush()
    assert reached() == 1


def test_the_territory_restricts_pathways_and_keeps_the_convention_figures_whole(session, one_action):
    action, indicators = one_action
    convention = convention_for(session, action, years={2020: {"places": 2, "budget": 900}})
    for territory in ("urban", "urban", "rural"):
        factories.pathway(session, convention_id=convention.id, territory=territory, entered_on=date(2020, 1, 1))

    rows = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 12, 31), group_by=["territory"])
    by_territory = {row.group["territory"]: row.values for row in rows}
    assert [row.group["territory"] for row in rows] == ["rural", "urban"]
    assert by_territory["urban"]["persons_present"] == 2
    assert by_territory["urban"]["budget"] == by_territory["rural"]["budget"] == 900.0
    assert by_territory["urban"]["occupancy_rate"] == pytest.approx(1.0)  # 2 people all year for 2 places
    assert by_territory["rural"]["occupancy_rate"] == pytest.approx(0.5)
    [rural] = indicators(start=date(2020, 1, 1), end=date(2020, 12, 31), as_of=date(2020, 12, 31), territory="rural")
    assert rural.values == by_territory["rural"]


def test_compute_for_years_windows_each_year_up_to_as_of_and_reports_consolidation(session, one_action):
    action, _ = one_action
    convention = convention_for(session, action, years={2019: {"places": 1}, 2020: {"places": 1}})
    factories.pathway(session, convention_id=convention.id, entered_on=date(2019, 12, 1))
    session.merge(Period(year=2019, status=PeriodStatus.consolidated))
    session.flush()

    rows = compute_for_years(
        session=session,
        years=[2020, 2019, 2021],
        as_of=date(2020, 1, 31),
        scope=Scope(actions=(action.code,)),
        group_by=["action"],
    )
    assert [(row.group["year"], row.consolidated) for row in rows] == [(2019, True), (2020, False)]
    assert rows[0].values["occupancy_rate"] == pytest.approx(31 / 365)
    assert rows[1].values["occupancy_rate"] == pytest.approx(1.0)
