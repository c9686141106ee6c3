"""The worker's startup objects, kept out of Python's cycle collector.

Now and then the collector walks every object of its oldest generation, holding the GIL: the
worker answers nothing meanwhile. What the imports alone leave there (FastAPI, SQLAlchemy,
pydantic, the models and routes: about 200,000 objects) took 110 ms a walk on the bench machine,
and under the mix a worker walked it every few seconds (pauses of 60-270 ms, what made a
prescription's p95 and every endpoint's p99). Those objects live as long as the worker, so the
walks find nothing among them: frozen once the worker has started, they are skipped, and a walk
covers only what the worker made since (docs/PERFORMANCE.md).
"""

import gc


def freeze_startup_objects() -> None:
    gc.collect()  # the startup's own garbage first: what is frozen is never collected
    gc.freeze()
