"""Fixtures of the observability tests: the service's log lines as written, the application
served by a real uvicorn (for its access log), and /metrics read as Prometheus reads it."""

import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from app.core.config import get_settings
from app.core.logging import configure_logging


@pytest.fixture
def log_output() -> Iterator[Callable[[str], io.StringIO]]:
    """`log_output("text" | "json", level="INFO")` → the stream every log line is written to from
    then on, in that format; the usual set-up is back after the test."""

    def capture(log_format: str, level: str = "INFO") -> io.StringIO:
        stream = io.StringIO()
        settings = get_settings().model_copy(update={"log_format": log_format, "log_level": level})
        configure_logging(settings, stream=stream)
        return stream

    yield capture
    configure_logging(get_settings())


@contextmanager
def served(app) -> Iterator[str]:
    """`app` served by uvicorn on a free loopback port, in a thread; yields its base URL.
    log_config=None, as `pdi serve` runs it: uvicorn's lines go through configure_logging."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # uvicorn says nothing else when it listens; bounded wait
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def metric_samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Prometheus' own parser over a /metrics body: {(sample name, its labels): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
