"""The served application's startup objects are frozen out of the cycle collector once its worker
has started (app/core/heap.py); the tests' own applications are not (the many of one test
process would never be collected)."""

import gc
import os
import subprocess
import sys

from fastapi.testclient import TestClient

from app.main import create_app

# What uvicorn does in each worker: import app.main's `app`, then run its lifespan.
SERVED_WORKER = """
import gc
from fastapi.testclient import TestClient
from app.main import app
before = gc.get_freeze_count()
with TestClient(app):
    started = gc.get_freeze_count()
    young = len(gc.get_objects())
print(before, started, young)
"""


def test_the_served_apps_worker_freezes_what_its_start_left(tmp_path):
    environment = os.environ | {"DATABASE_URL": f"sqlite:///{tmp_path / 'heap.db'}", "PDI_ENV": "development"}
    done = subprocess.run(
        [sys.executable, "-c", SERVED_WORKER], env=environment, capture_output=True, text=True, check=True, timeout=120
    )
    before, started, young = map(int, done.stdout.split()[-3:])
    assert before == 0
    # The imports' objects (FastAPI, SQLAlchemy, the routes: about 200,000) are frozen...
    assert started > 50_000
    # ...and what the collector still walks is a small part of them.
    assert young < started / 5


def test_an_app_made_for_a_test_freezes_nothing():
    frozen = gc.get_freeze_count()
    with TestClient(create_app()) as client:
        assert client.get("/healthz").status_code in (200, 503)
    assert gc.get_freeze_count() == frozen
