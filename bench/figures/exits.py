"""`POST /exit-records`, batches of 1,000 as operators' scripts send them, against psycopg
`executemany` of the same UPDATEs, a transaction per batch: once naming each pathway by
`pathway_id`, once by its natural key (`convention_id`, `beneficiary_ref`: the person's file
number, `entered_on`), for which the reference looks the person up by the keyed hash of the file
number, as the service must (app/core/security.py). The reference runs first; its rows are opened
again before the API exits them."""

import statistics
import time
from datetime import date

import httpx
import psycopg

from app.core.config import get_settings
from app.core.security import pseudonymise
from bench.common import report
from seed.demo.rows import REF_PREFIX

BATCHES = 3
BATCH_SIZE = 1000
EXIT_DAY = date(2021, 6, 30)  # after every demo entry, in a year that is not consolidated
# Of the pathways open on EXIT_DAY, the share these figures may close: the rest stays for the
# exit script of the mix (bench/figures/mix.py).
SHARE = 0.5

BY_ID_SQL = "UPDATE pathway SET exited_on = %s, exit_reason = %s, updated_at = now() WHERE id = %s"
BY_NATURAL_KEY_SQL = """
UPDATE pathway SET exited_on = %s, exit_reason = %s, updated_at = now()
WHERE convention_id = %s AND entered_on = %s
    AND beneficiary_id = (SELECT id FROM beneficiary WHERE ref_hash = %s)
"""


def open_pathways(connection: psycopg.Connection) -> list[tuple[int, int, date, str]]:
    """(id, convention, entry, ref_hash) of the pathways open on EXIT_DAY, by id."""
    return connection.execute(
        "SELECT p.id, p.convention_id, p.entered_on, b.ref_hash FROM pathway p"
        " JOIN beneficiary b ON b.id = p.beneficiary_id"
        " WHERE p.entered_on <= %s AND p.exited_on IS NULL AND p.cancelled_on IS NULL ORDER BY p.id",
        (EXIT_DAY,),
    ).fetchall()


def file_numbers(hashes: set[str], count: int) -> dict[str, str]:
    """The demo's file numbers (DEMO-<n>) of these keyed hashes: the client knows its file
    numbers, the database only their hashes."""
    secret = get_settings().secret_key
    found = {}
    for number in range(1, count + 1):
        ref = f"{REF_PREFIX}{number}"
        hashed = pseudonymise(ref, secret=secret)
        if hashed in hashes:
            found[hashed] = ref
            if len(found) == len(hashes):
                break
    return found


def batch_size(rows: list) -> int:
    """1,000 a batch, as scripts send them; fewer at a small scale, which has fewer open pathways."""
    return min(BATCH_SIZE, int(len(rows) * SHARE) // (2 * BATCHES))


def by_id_items(batch) -> list[dict]:
    exit_fields = {"exited_on": EXIT_DAY.isoformat(), "exit_reason": "employment_cdi"}
    return [{"pathway_id": row[0]} | exit_fields for row in batch]


def by_key_items(batch, refs: dict[str, str]) -> list[dict]:
    return [
        {
            "convention_id": row[1],
            "beneficiary_ref": refs[row[3]],
            "entered_on": row[2].isoformat(),
            "exited_on": EXIT_DAY.isoformat(),
            "exit_reason": "employment_cdi",
        }
        for row in batch
    ]


def posted_seconds(base: str, key: str, bodies: list[list[dict]]) -> float:
    """The median time of `POST /exit-records` over these batches, each checked all created."""
    runs = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=600) as http:
        for items in bodies:
            started = time.perf_counter()
            answer = http.post("/api/v1/exit-records", json=items).raise_for_status().json()
            runs.append(time.perf_counter() - started)
            assert answer["counts"]["created"] == len(items), answer["counts"]
    return statistics.median(runs)


def natural_key_exit_rate(base: str, url: str, key: str) -> float:
    """Exits/s of `POST /exit-records` by natural key: the median of BATCHES batches of pathways
    still open (closed by it), as measure_exit_records sends them."""
    with psycopg.connect(url) as connection:
        rows = open_pathways(connection)
        beneficiaries = connection.execute("SELECT max(id) FROM beneficiary").fetchone()[0]
    size = batch_size(rows)
    batches = [rows[start : start + size] for start in range(0, BATCHES * size, size)]
    refs = file_numbers({row[3] for batch in batches for row in batch}, beneficiaries)
    return size / posted_seconds(base, key, [by_key_items(batch, refs) for batch in batches])


def measure_exit_records(base: str, url: str, key: str) -> None:
    with psycopg.connect(url) as connection:
        rows = open_pathways(connection)
        beneficiaries = connection.execute("SELECT max(id) FROM beneficiary").fetchone()[0]
        connection.rollback()
        size = batch_size(rows)
        by_id = [rows[start : start + size] for start in range(0, BATCHES * size, size)]
        by_key = [rows[start : start + size] for start in range(BATCHES * size, 2 * BATCHES * size, size)]
        refs = file_numbers({row[3] for batch in by_key for row in batch}, beneficiaries)
        secret = get_settings().secret_key

        def id_parameters(batch):
            return [(EXIT_DAY, "employment_cdi", row[0]) for row in batch]

        def key_parameters(batch):
            # The hash is the reference's work too: the client sends file numbers.
            return [
                (EXIT_DAY, "employment_cdi", row[1], row[2], pseudonymise(refs[row[3]], secret=secret)) for row in batch
            ]

        raw = {}
        for name, batches, statement, parameters in (
            ("id", by_id, BY_ID_SQL, id_parameters),
            ("key", by_key, BY_NATURAL_KEY_SQL, key_parameters),
        ):
            runs = []
            for batch in batches:
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.executemany(statement, parameters(batch))
                    assert cursor.rowcount == len(batch), (name, cursor.rowcount)
                connection.commit()
                runs.append(time.perf_counter() - started)
            raw[name] = statistics.median(runs)
        # The same rows open again, for the API.
        ids = [row[0] for batch in by_id + by_key for row in batch]
        connection.execute("UPDATE pathway SET exited_on = NULL, exit_reason = NULL WHERE id = ANY(%s)", (ids,))
        connection.commit()

    api = {
        "id": posted_seconds(base, key, [by_id_items(batch) for batch in by_id]),
        "key": posted_seconds(base, key, [by_key_items(batch, refs) for batch in by_key]),
    }
    reference = "psycopg executemany UPDATEs of the same rows"
    report(f"exit records by pathway_id, batches of {size:,}", size / api["id"], "exits/s", reference, size / raw["id"])
    report(
        f"exit records by (convention, file number, entry date), batches of {size:,}",
        size / api["key"],
        "exits/s",
        reference,
        size / raw["key"],
        goal="≥ 0.8",
    )
