"""Assertions every domain's tests share, and what a test does when a tool it needs is missing."""

import os
from typing import NoReturn

import pytest


def assert_problem(response, status: int, loc: list | None = None) -> dict:
    """A problem+json answer with this status (and, when given, an error at `loc`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    if loc is not None:
        assert loc in [error["loc"] for error in body.get("errors", [])], body
    return body


def missing(skip_reason: str, ci_reason: str) -> NoReturn:
    """A tool or service the test needs is not here: skipped on a developer's machine, a failure
    under CI=true, where no test may be skipped for want of it (.ci/run installs them all)."""
    if os.environ.get("CI") == "true":
        pytest.fail(ci_reason)
    pytest.skip(skip_reason)
