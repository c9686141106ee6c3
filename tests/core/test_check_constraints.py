"""SPEC C1: the rules on input that can be stated on one row are CHECK constraints too, so that
no way into the database (a script, a loader, a bug) can store what the API would refuse."""

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.pathways.models import ActivityRecord
from tests import factories

# (what the rule forbids, the table, a SET clause breaking it)
BROKEN_ROWS = [
    ("an entry before the prescription", "pathway", "entered_on = '2019-01-09'"),
    ("an exit before the entry", "pathway", "exited_on = '2019-01-31', exit_reason = 'training'"),
    ("an exit without a reason", "pathway", "exited_on = '2019-06-01'"),
    ("a reason without an exit", "pathway", "exit_reason = 'training'"),
    ("a cancelled pathway that was entered", "pathway", "cancelled_on = '2019-03-01'"),
    ("a planned end before the entry", "pathway", "planned_end_on = '2019-01-15'"),
    ("negative hours", "pathway", "hours = -1"),
    ("an unknown sex", "pathway", "sex = 'Q'"),
    ("an unknown territory", "pathway", "territory = 'suburban'"),
    ("an unknown household", "pathway", "household = 'commune'"),
    ("a birth year before 1900", "pathway", "birth_year = 1850"),
    ("negative places", "convention_year", "places = -1"),
    ("more than 12 months per place", "convention_year", "months_per_place = 13"),
    ("a negative budget", "convention_year", "budget = -1"),
    ("FSE over the budget", "convention_year", "fse_amount = budget + 1"),
    ("FSE without a budget", "convention_year", "budget = NULL"),
    ("a negative hours threshold", "convention_year", "hours_threshold = -1"),
    ("an unknown budget kind", "convention_year", "budget_kind = 'guess'"),
    ("a convention ending before it starts", "convention", "end_on = '2017-12-31'"),
    ("an unknown convention status", "convention", "status = 'paused'"),
    ("a negative activity quantity", "activity_record", "quantity = -1"),
    ("an action numbered 0", "action", "number = 0"),
    ("durations out of order", "action", "min_duration_months = 6, max_duration_months = 3"),
    ("a latitude without longitude", "site", "latitude = 48.0, longitude = NULL"),
    ("a latitude past the pole", "site", "latitude = 91, longitude = 0"),
    ("an unknown site territory", "site", "territory = 'suburban'"),
]


@pytest.fixture
def rows(session):
    """One valid row of each table the rules are on; the ids to update."""
    site = factories.site(session)
    convention = factories.convention(
        session, operator_id=site.operator_id, years={2019: {"places": 3, "budget": 1000, "fse_amount": 400}}
    )
    pathway = factories.pathway(
        session, convention_id=convention.id, prescribed_on=date(2019, 1, 10), entered_on=date(2019, 2, 1)
    )
    activity = ActivityRecord(
        convention_id=convention.id, recorded_on=date(2019, 5, 1), metric="workshop_sessions", quantity=2
    )
    session.add(activity)
    session.flush()
    return {
        "pathway": pathway.id,
        "convention": convention.id,
        "convention_year": session.execute(
            text("SELECT id FROM convention_year WHERE convention_id = :id"), {"id": convention.id}
        ).scalar_one(),
        "activity_record": activity.id,
        "action": convention.action_id,
        "site": site.id,
    }


@pytest.mark.parametrize(("rule", "table", "change"), BROKEN_ROWS, ids=[rule for rule, _t, _c in BROKEN_ROWS])
def test_the_database_refuses_a_row_that_breaks_a_rule(session, rows, rule, table, change):
    update = text(f"UPDATE {table} SET {change} WHERE id = :id")
    with pytest.raises(IntegrityError, match="(?i)check"), session.begin_nested():
        session.execute(update, {"id": rows[table]})


def test_the_valid_rows_are_accepted(session, rows):
    """The rows above are valid as they stand: each refusal is the change's doing."""
    session.execute(text("UPDATE pathway SET hours = 10 WHERE id = :id"), {"id": rows["pathway"]})
    session.execute(text("UPDATE site SET latitude = 48.07, longitude = -0.77 WHERE id = :id"), {"id": rows["site"]})
