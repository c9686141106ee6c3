"""A person's file number, its pseudonym and their characteristics never reach a log line or
/metrics, even at DEBUG, through every path that carries them: creation, reads, corrections,
exit records by file number, refusals (422, 409)."""

import logging
import re
from datetime import timedelta

import httpx

from app.core import time as clock
from app.core.config import get_settings
from app.core.security import pseudonymise
from tests import factories
from tests.core.conftest import metric_samples, served

REF = "RSA-ZORGLUB-4711"
CHARACTERISTICS = {
    "birth_year": 1958,
    "sex": "X",
    "insee_code": "72264",
    "territory": "rural",
    "household": "couple_with_children",
    "self_employed": True,
}


def test_no_file_number_pseudonym_or_characteristic_in_logs_or_metrics(caplog, log_output, app, client, session, admin):
    caplog.set_level(logging.DEBUG)
    logs = log_output("json", level="DEBUG")
    today = clock.today()
    action = factories.action(session, code="act-privacy")
    convention = factories.convention(
        session,
        action_id=action.id,
        years={today.year: {"places": 12}},
        start_on=today - timedelta(days=90),
        end_on=today + timedelta(days=90),
    )
    session.commit()
    body = {
        "convention_id": convention.id,
        "beneficiary_ref": REF,
        "beneficiary": CHARACTERISTICS,
        "prescribed_on": (today - timedelta(days=10)).isoformat(),
        "entered_on": (today - timedelta(days=3)).isoformat(),
    }
    statuses = []
    with served(app) as url, httpx.Client(base_url=url, headers=admin) as http:

        def call(method: str, path: str, **kwargs) -> httpx.Response:
            response = http.request(method, path, **kwargs)
            statuses.append(response.status_code)
            return response

        created = call("POST", "/api/v1/pathways", json=body).json()
        call("POST", "/api/v1/pathways", json=body)  # the same stay again: 409
        call("POST", "/api/v1/pathways", json={**body, "beneficiary": {**CHARACTERISTICS, "sex": "Q"}})  # 422
        call("GET", f"/api/v1/pathways/{created['id']}")
        call("GET", "/api/v1/pathways", params={"convention": convention.id})
        call("PATCH", f"/api/v1/pathways/{created['id']}", json={"hours": 12})
        by_ref = {"convention_id": convention.id, "beneficiary_ref": REF, "entered_on": body["entered_on"]}
        call(
            "POST",
            "/api/v1/exit-records",
            json=[{**by_ref, "exited_on": today.isoformat(), "exit_reason": "nonsense"}],  # an item in error
        )
        metrics = call("GET", "/metrics").text
    assert statuses == [201, 409, 422, 200, 200, 200, 200, 200], statuses

    pseudonym = pseudonymise(REF, secret=get_settings().secret_key)
    written = logs.getvalue() + caplog.text
    assert "uvicorn.access" in written and "/api/v1/pathways" in written  # the capture saw the requests
    for text in (written, metrics):
        assert REF.lower() not in text.lower()
        assert pseudonym not in text.lower()
        assert "couple_with_children" not in text
    # Short values are looked for as whole words in logs (a request id is hex), and in the labels
    # of /metrics (its values are counts and seconds, where digits may meet by chance).
    for value in ("1958", "72264"):
        assert not re.search(rf"\b{value}\b", written), value
    labels = {value for _name, sample_labels in metric_samples(metrics) for _label, value in sample_labels}
    assert not [label for label in labels if any(str(v) in label for v in ("1958", "72264", REF, pseudonym))]
    assert 'pdi_seats_available{action="act-privacy"} 11.0' in metrics  # the pathway was counted, not shown
