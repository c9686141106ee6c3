"""The Prometheus side (issue: metrics to alert on): the alerting rules the repository ships parse
and type-check with Prometheus' own `promtool`, and a scrape of /metrics passes its lint. promtool
comes from Debian's `prometheus` package (.ci/run installs it); without it, the test is skipped
except under CI=true."""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import missing

pytestmark = pytest.mark.slow

RULES = Path(__file__).resolve().parents[2] / "docker" / "prometheus" / "alerts.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        missing(
            "promtool not installed (apt-get install prometheus)",
            "promtool is missing under CI=true (.ci/run installs Debian's prometheus package)",
        )
    return found


def test_the_alerting_rules_pass_promtool(promtool):
    result = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_a_scrape_passes_promtools_lint(promtool, client):
    assert client.get("/api/v1/families").status_code == 200
    scrape = client.get("/metrics").text
    result = subprocess.run([promtool, "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
