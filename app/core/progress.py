"""Progress of long commands (`pdi demo`): a bar on a terminal; elsewhere (a pipe, a log file, CI)
a plain line every few seconds, since a redrawn bar shows nothing there until it ends."""

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import typer

from app.core.config import get_settings


@contextmanager
def progress(
    label: str,
    total: int,
    *,
    unit: str = "rows",
    stream: TextIO | None = None,
    interval_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n)`. Off a terminal, a line at the start, then at most one every
    `interval_seconds` (`PDI_PROGRESS_INTERVAL_SECONDS`), and one at the end."""
    stream = stream or sys.stderr
    if stream.isatty():
        with typer.progressbar(length=total, label=label, file=stream) as bar:
            yield bar.update
        return

    interval = get_settings().progress_interval_seconds if interval_seconds is None else interval_seconds
    started = last_line = clock()
    done = 0

    def line(note: str = "") -> None:
        share = done / total if total else 1.0
        print(f"{label}: {done:,}/{total:,} {unit} ({share:.0%}){note}", file=stream, flush=True)

    def advance(n: int) -> None:
        nonlocal done, last_line
        done += n
        now = clock()
        if now - last_line >= interval:
            line()
            last_line = now

    line()
    yield advance
    line(f", done in {clock() - started:.0f} s")
