"""`pdi demo --scale N` (the real command) into a fresh database, against a `COPY` of the same
rows into another fresh database."""

import io
import time

import psycopg
from psycopg import sql

from bench.common import DATABASE, SCALE, drop_database, fresh_database, pdi, report

COPIED_TABLES = ("beneficiary", "pathway", "pathway_participant", "follow_up")


def measure_demo_load(url: str) -> None:
    started = time.perf_counter()
    print(pdi(url, "demo", "--scale", str(SCALE)).strip(), flush=True)
    demo_seconds = time.perf_counter() - started

    copy_name = f"{DATABASE}_copy"
    copy_url = fresh_database(copy_name)
    rows = {}
    with psycopg.connect(url) as source:
        for table in COPIED_TABLES:
            buffer = io.BytesIO()
            with source.cursor().copy(sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table))) as copy:
                for block in copy:
                    buffer.write(block)
            rows[table] = buffer.getvalue()
    with psycopg.connect(copy_url) as target:
        started = time.perf_counter()
        for table in COPIED_TABLES:
            with target.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))) as copy:
                copy.write(rows[table])
        target.commit()
        copy_seconds = time.perf_counter() - started
    drop_database(copy_name)
    report(f"demo load (pdi demo --scale {SCALE})", demo_seconds, "s", "COPY of the same rows", copy_seconds)
