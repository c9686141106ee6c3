"""GET /availability: the figures of one convention on one day, worked out by hand.

Every case uses a convention of its own (its own factory action), so the seed catalogue
and other tests' rows never enter the list being checked.
"""

from datetime import date

from tests import factories

DAY = date(2019, 6, 15)


def stay(session, convention, entered_on, exited_on=None, **fields):
    return factories.pathway(
        session,
        convention_id=convention.id,
        prescribed_on=fields.pop("prescribed_on", entered_on),
        entered_on=entered_on,
        exited_on=exited_on,
        exit_reason="completed" if exited_on else None,
        **fields,
    )


def prescription(session, convention, prescribed_on, **fields):
    return factories.pathway(session, convention_id=convention.id, prescribed_on=prescribed_on, **fields)


def test_occupied_counts_stays_that_contain_the_day_both_ends_included(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 10}})
    stay(session, convention, date(2019, 6, 1))  # entered, not exited: occupies
    stay(session, convention, DAY)  # entered that very day: occupies
    stay(session, convention, date(2019, 6, 1), exited_on=DAY)  # leaves that day: still there
    stay(session, convention, date(2019, 6, 1), exited_on=date(2019, 6, 14))  # left the day before
    stay(session, convention, date(2019, 6, 16), prescribed_on=date(2019, 6, 16))  # not yet entered

    item = availability_of(convention)

    assert item["occupied"] == 3
    assert item["reserved"] == 0
    assert item["places_funded"] == 10
    assert item["capacity"] == 10
    assert item["available"] == 10 - 3


def test_reserved_counts_prescriptions_pending_on_the_day(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 10}})
    prescription(session, convention, date(2019, 6, 10))  # pending: reserves
    prescription(session, convention, DAY)  # prescribed that day: reserves
    prescription(session, convention, date(2019, 6, 16))  # prescribed after the day: not yet
    # Entered after the day: on the day it was still waiting for its seat.
    prescription(session, convention, date(2019, 6, 1), entered_on=date(2019, 6, 20))
    # Cancelled before or on the day: gone.
    prescription(session, convention, date(2019, 6, 1), cancelled_on=date(2019, 6, 10), cancel_reason="x")
    prescription(session, convention, date(2019, 6, 1), cancelled_on=DAY, cancel_reason="x")
    # Cancelled after the day: on the day it still held its seat.
    prescription(session, convention, date(2019, 6, 1), cancelled_on=date(2019, 6, 20), cancel_reason="x")

    item = availability_of(convention)

    assert item["reserved"] == 4
    assert item["occupied"] == 0
    assert item["available"] == 10 - 4


def test_cancelled_prescription_counts_nowhere(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 3}})
    prescription(session, convention, date(2019, 6, 1), cancelled_on=date(2019, 6, 5), cancel_reason="no show")

    item = availability_of(convention)

    assert (item["occupied"], item["reserved"], item["available"]) == (0, 0, 3)


def test_capacity_minus_occupied_minus_reserved(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 8}})
    for _ in range(3):
        stay(session, convention, date(2019, 5, 1))
    for _ in range(2):
        prescription(session, convention, date(2019, 6, 1))

    item = availability_of(convention)

    assert (item["capacity"], item["occupied"], item["reserved"], item["available"]) == (8, 3, 2, 3)


def test_overbooked_convention_shows_zero_available_never_negative(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 2}})
    for _ in range(3):
        stay(session, convention, date(2019, 5, 1))
    prescription(session, convention, date(2019, 6, 1))

    item = availability_of(convention)

    assert (item["capacity"], item["occupied"], item["reserved"]) == (2, 3, 1)
    assert item["available"] == 0


def test_convention_funded_by_budget_only_has_no_capacity(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": None, "budget": 5000}})
    stay(session, convention, date(2019, 5, 1))

    item = availability_of(convention)

    assert item["places_funded"] is None
    assert item["capacity"] is None
    assert item["available"] is None
    assert item["occupied"] == 1


def test_convention_without_a_line_for_the_year_has_no_capacity(session, availability_of):
    # Lines for 2018 and 2020 only: the day's year (2019) has none, and other years do not stand in.
    convention = factories.convention(session, years={2018: {"places": 10}, 2020: {"places": 10}})

    item = availability_of(convention)

    assert (item["places_funded"], item["capacity"], item["available"]) == (None, None, None)


def test_places_funded_is_the_line_of_the_days_year(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 6}, 2020: {"places": 9}})

    assert availability_of(convention, on=date(2019, 12, 31))["places_funded"] == 6
    assert availability_of(convention, on=date(2020, 1, 1))["places_funded"] == 9


def test_capacity_is_seats_at_any_one_time(session, availability_of):
    # 12 one-month pathways over the year: one seat at a time.
    monthly = factories.convention(session, years={2019: {"places": 12, "months_per_place": 1}})
    # 5 half-year places: 2.5 seats, rounded down.
    half_year = factories.convention(session, years={2019: {"places": 5, "months_per_place": 6}})
    # 10 one-month pathways: less than one seat at a time.
    sparse = factories.convention(session, years={2019: {"places": 10, "months_per_place": 1}})

    assert availability_of(monthly)["capacity"] == 1
    assert availability_of(half_year)["capacity"] == 2
    assert availability_of(sparse)["capacity"] == 0
    assert availability_of(sparse)["places_funded"] == 10


def test_next_release_is_the_earliest_planned_end_of_the_days_stays(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 10}})
    stay(session, convention, date(2019, 5, 1), planned_end_on=date(2019, 7, 31))
    stay(session, convention, date(2019, 5, 1), planned_end_on=date(2019, 6, 20))
    stay(session, convention, date(2019, 5, 1))  # no planned end
    # Not counted: a past stay, a pending prescription, a planned end already overdue.
    stay(session, convention, date(2019, 5, 1), exited_on=date(2019, 6, 10), planned_end_on=date(2019, 6, 16))
    prescription(session, convention, date(2019, 6, 1), planned_end_on=date(2019, 6, 17))
    stay(session, convention, date(2019, 5, 1), planned_end_on=date(2019, 6, 1))

    assert availability_of(convention)["next_release_on"] == "2019-06-20"


def test_next_release_on_the_day_itself_counts(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 10}})
    stay(session, convention, date(2019, 5, 1), planned_end_on=DAY)
    stay(session, convention, date(2019, 5, 1), planned_end_on=date(2019, 8, 1))

    assert availability_of(convention)["next_release_on"] == DAY.isoformat()


def test_next_release_is_null_without_planned_ends(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 10}})
    stay(session, convention, date(2019, 5, 1))

    assert availability_of(convention)["next_release_on"] is None


def test_convention_without_pathways_is_all_available(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 4}})

    item = availability_of(convention)

    assert (item["occupied"], item["reserved"], item["available"], item["next_release_on"]) == (0, 0, 4, None)


def test_pathways_of_other_conventions_do_not_count(session, availability_of):
    convention = factories.convention(session, years={2019: {"places": 4}})
    other = factories.convention(session, action_id=convention.action_id, years={2019: {"places": 4}})
    stay(session, other, date(2019, 5, 1), planned_end_on=date(2019, 7, 1))
    prescription(session, other, date(2019, 6, 1))

    assert availability_of(convention)["available"] == 4
    assert availability_of(other)["available"] == 2
