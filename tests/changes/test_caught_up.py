"""Which feed polls are answered before routing (app/changes/caught_up.py): only a query the
route would take as it stands, asking for nothing past the watch's cursor."""

import pytest

from app.changes.caught_up import caught_up_after
from app.changes.router import MAX_AFTER

CURSOR = 41


@pytest.mark.parametrize(
    ("query", "after"),
    [
        (b"after=41", 41),
        (b"after=42&limit=1000", 42),  # past the cursor: the watch has not heard of it yet either
        (b"limit=1&after=41", 41),
        (b"after=0041", 41),  # as the route reads it
    ],
)
def test_a_caught_up_query_is_answered(query, after):
    assert caught_up_after(query, CURSOR) == after


@pytest.mark.parametrize(
    "query",
    [
        b"",  # after=0, the default: not caught up
        b"after=40",  # something after it
        b"after=41&after=41",
        b"after=41&limit=0",
        b"after=41&limit=1001",
        b"after=41&kind=pathway",  # a parameter the route does not know: its answer
        b"after=-41",
        b"after=+41",
        b"after=4%C2%B91",  # a superscript digit: str.isdigit says yes, int() and the route say no
        b"after=",
        b"after",
        b"after=41&&",
        f"after={MAX_AFTER + 1}".encode(),
        b"after=%FF",
    ],
)
def test_anything_else_is_the_routes_to_answer(query):
    assert caught_up_after(query, CURSOR) is None
