"""GET /reference/exit-reasons: the SPEC's table, public."""

from app.reference.exit_reasons import EXIT_REASONS
from tests.pathways.helpers import API

# A few rows of SPEC's table, copied from it: code → (dynamic, durable employment, completed).
FROM_SPEC = {
    "employment_cdi": (True, True, True),
    "business_creation": (True, True, True),
    "employment_short": (True, False, True),
    "completed": (False, False, True),
    "dropped_out": (False, False, False),
}


def test_exit_reasons_are_public_and_match_the_spec(client):
    response = client.get(f"{API}/reference/exit-reasons")
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()}
    assert len(rows) == 15
    assert [row["code"] for row in response.json()] == [reason.code for reason in EXIT_REASONS]
    for code, flags in FROM_SPEC.items():
        row = rows[code]
        assert (row["dynamic"], row["durable_employment"], row["completed"]) == flags
    assert rows["employment_cdi"]["label"] == "Emploi en CDI"
