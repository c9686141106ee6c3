"""The references of `make bench`'s HTTP figures, served by the same uvicorn with as many workers
as the API, so that a ratio to them measures what the API's own work costs, not what the stack
costs:

- `/static`: a fixed list of 50 items in the API's list envelope (no database);
- `/actions-sql`: the first page of the actions as a person would write the endpoint by hand: one
  SQL join of the actions with their families through psycopg (a connection per thread, kept), the
  rows turned into the API's list envelope with the fields of `GET /api/v1/actions`. The bench
  checks that both give the same items."""

import os
import threading

import psycopg
from fastapi import FastAPI
from psycopg.rows import dict_row

ITEMS = [
    {"id": number, "code": f"item-{number}", "name": f"Élément {number}", "commune": "Le Mans", "places": number % 7}
    for number in range(1, 51)
]
PAGE = {"items": ITEMS, "total": len(ITEMS), "page": 1, "size": 50}

ACTIONS_SQL = """
SELECT a.code, a.number, f.code AS family, a.name, a.description, a.target_public, a.min_duration_months,
    a.max_duration_months, a.format, a.indicators, a.thematiques, a.type, a.publics, a.frais, a.modes_accueil,
    a.modes_mobilisation, a.mobilisable_par, a.zone_eligibilite, a.created_at, a.updated_at,
    count(*) OVER () AS total
FROM action a JOIN family f ON f.id = a.family_id
ORDER BY a.number
LIMIT 50
"""

app = FastAPI(title="make bench's references")
_connections = threading.local()


def _connection() -> psycopg.Connection:
    connection = getattr(_connections, "connection", None)
    if connection is None or connection.closed:
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
        connection = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        _connections.connection = connection
    return connection


@app.get("/static")
def static_list() -> dict:
    return PAGE


@app.get("/actions-sql")
def actions_by_hand() -> dict:
    rows = _connection().execute(ACTIONS_SQL).fetchall()
    total = rows[0]["total"] if rows else 0
    items = [{name: value for name, value in row.items() if name != "total"} for row in rows]
    return {"items": items, "total": total, "page": 1, "size": 50}
