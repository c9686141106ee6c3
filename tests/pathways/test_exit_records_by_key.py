"""POST /exit-records by natural key (convention_id, beneficiary_ref, entered_on) at the edges:
the same key twice, keys that name nothing or another operator's pathway, both key kinds in one
batch, more than 1,000 items, JSON and CSV alike; and the lookup's SQL, the same whatever the
batch's size (its keys are array parameters on PostgreSQL, one JSON parameter on SQLite)."""

from datetime import date

import pytest
from sqlalchemy import event

from app.core.config import get_settings
from app.core.security import pseudonymise
from app.pathways.models import Beneficiary, Pathway
from tests.pathways.helpers import API, stored_pathway

URL = f"{API}/exit-records"
ENTRY = date(2019, 2, 1)
COLUMNS = ("pathway_id", "convention_id", "beneficiary_ref", "entered_on", "exited_on", "exit_reason")


def by_key(convention_id: int, ref: str, entered_on: date = ENTRY, **fields) -> dict:
    return {
        "convention_id": convention_id,
        "beneficiary_ref": ref,
        "entered_on": entered_on.isoformat(),
        "exited_on": "2019-06-30",
        "exit_reason": "training",
        **fields,
    }


def by_id(pathway_id: int, **fields) -> dict:
    return {"pathway_id": pathway_id, "exited_on": "2019-06-30", "exit_reason": "training", **fields}


def as_csv(items: list[dict]) -> bytes:
    lines = [",".join(COLUMNS)] + [",".join(str(item.get(name, "")) for name in COLUMNS) for item in items]
    return ("\n".join(lines) + "\n").encode()


def post(client, headers, items, body="json"):
    if body == "json":
        response = client.post(URL, json=items, headers=headers)
    else:
        response = client.post(URL, content=as_csv(items), headers={**headers, "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    return response.json()


def outcomes(answer) -> list[tuple]:
    return [(r["status"], r["pathway_id"], r["problem"]["status"] if r["problem"] else None) for r in answer["results"]]


def exits(session, pathway_ids) -> dict[int, tuple]:
    session.expire_all()
    return {
        pathway_id: (row.exited_on, row.exit_reason)
        for pathway_id in pathway_ids
        if (row := session.get(Pathway, pathway_id))
    }


def many_entered(session, convention_id: int, prefix: str, count: int) -> list[int]:
    """`count` active pathways of persons `{prefix}-0`… entered on ENTRY, added in one flush each."""
    secret = get_settings().secret_key
    people = [Beneficiary(ref_hash=pseudonymise(f"{prefix}-{n}", secret=secret)) for n in range(count)]
    session.add_all(people)
    session.flush()
    pathways = [
        Pathway(convention_id=convention_id, beneficiary_id=person.id, prescribed_on=ENTRY, entered_on=ENTRY)
        for person in people
    ]
    session.add_all(pathways)
    session.commit()
    return [pathway.id for pathway in pathways]


@pytest.fixture
def entered(session, world):
    """Three active pathways of operator A's convention (refs K-0, K-1, K-2, entered on 1 Feb 2019)."""
    return [stored_pathway(session, world.convention.id, f"K-{n}", entered_on=ENTRY).id for n in range(3)]


@pytest.mark.parametrize("body", ["json", "csv"])
def test_the_same_key_twice_in_a_batch(client, world, session, entered, body):
    """A key named again sees the first item's exit: the same exit is unchanged, another one a
    409; the file number matches whatever its case and spaces, as the pseudonym does."""
    convention = world.convention.id
    items = [
        by_key(convention, "K-0"),
        by_key(convention, " k-0 "),
        by_key(convention, "K-0", exit_reason="moved"),
        by_key(convention, "K-1", exited_on="2019-05-31"),
        by_key(convention, "K-1", exited_on="2019-05-31"),
    ]
    answer = post(client, world.operator_key, items, body)
    assert outcomes(answer) == [
        ("created", entered[0], None),
        ("unchanged", entered[0], None),
        ("error", entered[0], 409),
        ("created", entered[1], None),
        ("unchanged", entered[1], None),
    ]
    assert answer["counts"] == {"created": 2, "unchanged": 2, "error": 1}
    assert exits(session, entered) == {
        entered[0]: (date(2019, 6, 30), "training"),
        entered[1]: (date(2019, 5, 31), "training"),
        entered[2]: (None, None),
    }


@pytest.mark.parametrize("body", ["json", "csv"])
def test_keys_that_name_no_pathway_are_item_404s(client, world, session, entered, body):
    convention = world.convention.id
    items = [
        by_key(convention, "NOBODY"),
        by_key(convention, "K-0", entered_on=date(2019, 2, 2)),  # the person, another entry day
        by_key(999_999_999, "K-0"),
        by_key(convention, "K-2"),
    ]
    answer = post(client, world.operator_key, items, body)
    assert outcomes(answer) == [("error", None, 404)] * 3 + [("created", entered[2], None)]
    assert [r["problem"]["detail"] for r in answer["results"][:3]] == [
        f"No pathway of this beneficiary entered on 2019-02-01 in convention {convention}",
        f"No pathway of this beneficiary entered on 2019-02-02 in convention {convention}",
        "No pathway of this beneficiary entered on 2019-02-01 in convention 999999999",
    ]
    assert exits(session, entered)[entered[0]] == (None, None)


def test_a_key_of_another_operators_convention_is_a_404(client, world, session, admin, entered):
    """The same person entered the same day in operator B's convention: operator A's key finds
    its own pathway by its key, and B's as nothing (a 404, never a 403); B's key and an admin's
    find B's."""
    theirs = stored_pathway(session, world.other_convention.id, "K-0", entered_on=ENTRY).id
    items = [by_key(world.other_convention.id, "K-0"), by_key(world.convention.id, "K-0")]
    answer = post(client, world.operator_key, items)
    assert outcomes(answer) == [("error", None, 404), ("created", entered[0], None)]
    assert exits(session, [theirs])[theirs] == (None, None)

    answer = post(client, world.other_operator_key, [by_key(world.convention.id, "K-1")])
    assert outcomes(answer) == [("error", None, 404)]
    assert exits(session, [entered[1]])[entered[1]] == (None, None)

    answer = post(client, admin, [by_key(world.other_convention.id, "K-0"), by_key(world.convention.id, "K-1")])
    assert outcomes(answer) == [("created", theirs, None), ("created", entered[1], None)]


@pytest.mark.parametrize("body", ["json", "csv"])
def test_both_key_kinds_in_one_batch(client, world, session, entered, body):
    """Items by id and by key mix freely; a pathway named both ways is one pathway."""
    convention = world.convention.id
    items = [
        by_id(entered[0]),
        by_key(convention, "K-1", exit_reason="completed"),
        by_key(convention, "K-2"),
        by_id(entered[2]),
        by_id(entered[1], exit_reason="moved"),
        by_id(999_999_999),
    ]
    answer = post(client, world.operator_key, items, body)
    assert outcomes(answer) == [
        ("created", entered[0], None),
        ("created", entered[1], None),
        ("created", entered[2], None),
        ("unchanged", entered[2], None),
        ("error", entered[1], 409),
        ("error", None, 404),
    ]
    assert exits(session, entered)[entered[1]] == (date(2019, 6, 30), "completed")


@pytest.mark.slow
@pytest.mark.parametrize("body", ["json", "csv"])
def test_more_than_a_thousand_items_by_key(client, world, session, monkeypatch, body):
    """1,200 items, one in twelve naming nobody: each finds its own pathway, and only its own."""
    monkeypatch.setattr(get_settings(), "max_batch_items", 1200)
    ids = many_entered(session, world.convention.id, "M", 1100)
    items, expected = [], []
    for n in range(1200):
        if n % 12 == 11:
            items.append(by_key(world.convention.id, f"NOBODY-{n}"))
            expected.append(("error", None, 404))
        else:
            number = n - n // 12
            items.append(by_key(world.convention.id, f"M-{number}", exited_on=f"2019-06-{1 + number % 28:02d}"))
            expected.append(("created", ids[number], None))
    answer = post(client, world.operator_key, items, body)
    assert outcomes(answer) == expected
    assert answer["counts"] == {"created": 1100, "unchanged": 0, "error": 100}
    stored = exits(session, ids)
    assert all(stored[ids[number]] == (date(2019, 6, 1 + number % 28), "training") for number in range(1100))
    assert [r["status"] for r in post(client, world.operator_key, items, body)["results"]] == [
        "unchanged" if status == "created" else status for status, _id, _problem in expected
    ]


def test_the_lookup_sql_is_the_same_whatever_the_batch_size(client, world, session, engine):
    """The batch's own statements (the lookup by key, the read it decides on, the locks, the
    UPDATE: those that join its rows as a table) have the same text and the same number of
    parameters for 5 items and for 200: planned once, parsed once. (The feed's rows at commit are
    the change feed's business.)"""
    ids = many_entered(session, world.convention.id, "S", 205)
    statements: list[tuple[str, int]] = []

    def seen(_connection, _cursor, statement, parameters, _context, executemany):
        if any(f"AS {table}" in statement for table in ("entry", "named", "exits")):
            count = len(parameters) if isinstance(parameters, dict | list | tuple) else 0
            statements.append((statement, count, executemany))

    def run(numbers) -> list[tuple[str, int]]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            answer = post(client, world.operator_key, [by_key(world.convention.id, f"S-{n}") for n in numbers])
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert answer["counts"]["created"] == len(numbers)
        return list(statements)

    run(range(200, 205))  # first use of the key: its last-use stamp
    small, large = run(range(0, 5)), run(range(5, 200))
    assert small == large
    assert [statement.split()[0] for statement, _count, _many in small] == [
        "SELECT",
        "SELECT",
        "SELECT",
        "SELECT",
        "UPDATE",
    ]
    assert all(not many for _statement, _count, many in small)
    assert len(ids) == 205
