"""Progress of long commands: a bar on a terminal, a plain line every few seconds elsewhere."""

import io
import re

import pytest

from app.core.config import get_settings
from app.core.progress import progress
from seed.demo import generate_demo


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_bar_is_drawn():
    stream = Terminal()
    with progress("demo", 100, stream=stream) as advance:
        for _ in range(4):
            advance(25)
    assert "demo" in stream.getvalue() and "100%" in stream.getvalue()
    assert "rows" not in stream.getvalue()  # the bar, not the plain lines


def test_off_a_terminal_a_line_every_interval():
    now = 0.0
    stream = io.StringIO()
    with progress("demo", 1000, stream=stream, interval_seconds=5, clock=lambda: now) as advance:
        advance(100)  # at 0 s: the start line was just printed
        now = 4.9
        advance(100)
        now = 5.0
        advance(100)  # 5 s since the last line
        now = 6.0
        advance(100)
        now = 10.5
        advance(600)  # 5.5 s since the last line
        now = 12.0
    assert stream.getvalue().splitlines() == [
        "demo: 0/1,000 rows (0%)",
        "demo: 300/1,000 rows (30%)",
        "demo: 1,000/1,000 rows (100%)",
        "demo: 1,000/1,000 rows (100%), done in 12 s",
    ]


@pytest.mark.slow
def test_pdi_demo_prints_lines_when_its_output_is_not_a_terminal(session, capsys, monkeypatch):
    monkeypatch.setattr(get_settings(), "progress_interval_seconds", 0)  # a line at every step
    generate_demo(session=session, scale=2, progress=True)  # a step per copy of the data set
    lines = capsys.readouterr().err.splitlines()
    progress_lines = [line for line in lines if line.startswith("demo: ")]
    assert len(progress_lines) >= 4, lines
    assert progress_lines[0].startswith("demo: 0/")
    assert re.fullmatch(r"demo: ([\d,]+)/\1 rows \(100%\), done in \d+ s", progress_lines[-1]), progress_lines[-1]
