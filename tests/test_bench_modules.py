"""`make bench` is run by hand, not by the suite: this keeps its modules importable, so that a
rename in app/ or seed/ is caught here rather than at the start of a 40-minute run."""

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
MODULES = sorted(
    ".".join(path.relative_to(BENCH.parent).with_suffix("").parts)
    for path in BENCH.rglob("*.py")
    if path.name != "__init__.py"
)


@pytest.mark.parametrize("module", MODULES)
def test_bench_module_imports(module):
    importlib.import_module(module)
