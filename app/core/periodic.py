"""Periodic jobs: what one is, and the timer that runs those that are due, each in its own writer
transaction. Which jobs run is listed in app/jobs.py; the worker (`pdi worker`, or the threads of
`pdi serve`) ticks the timer between its polls."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import PdiSession
from app.core.time import today as paris_today

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval: timedelta
    run: Callable[[Session, date], object]


@dataclass
class JobTimer:
    """Runs each job at most once per its interval; `writer`: the engine its transactions use."""

    jobs: list[PeriodicJob]
    writer: Engine
    _last_run: dict[str, float] = field(default_factory=dict)

    def run_due(self) -> None:
        for job in self.jobs:
            now = time.monotonic()
            if now - self._last_run.get(job.name, float("-inf")) < job.interval.total_seconds():
                continue
            self._last_run[job.name] = now
            try:
                with PdiSession(self.writer) as session:
                    result = job.run(session, paris_today())
                    session.commit()
                log.info("periodic job %s: %s", job.name, result)
            except Exception:
                log.exception("periodic job %s failed", job.name)
