"""GET /metrics: requests by route template (never a raw path), the database pool, and the seats
available per action computed at scrape time."""

from datetime import timedelta

from fastapi.testclient import TestClient

from app.core import time as clock
from app.core.config import get_settings
from app.core.engines import get_engine, make_engine
from app.main import create_app
from tests import factories
from tests.conftest import TEST_DATABASE_URL
from tests.core.conftest import metric_samples


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return metric_samples(response.text)


def requests_counted(samples: dict, handler: str, status: str, method: str = "GET") -> float:
    labels = frozenset({"handler": handler, "method": method, "status": status}.items())
    return samples.get(("http_requests_total", labels), 0.0)


def test_requests_are_counted_by_route_template(client, session):
    family = factories.family(session, code="fam-metrics")
    session.commit()
    before = scrape(client)
    assert client.get(f"/api/v1/families/{family.code}").status_code == 200
    assert client.get("/api/v1/families/no-such-family-4242").status_code == 404
    assert client.get("/api/v1/families/fam-metrics/", follow_redirects=False).status_code == 307
    assert client.get("/api/v1/pathways/987654").status_code == 401
    after = scrape(client)

    template = "/api/v1/families/{code}"
    assert requests_counted(after, template, "200") == requests_counted(before, template, "200") + 1
    assert requests_counted(after, template, "404") == requests_counted(before, template, "404") + 1
    pathway = "/api/v1/pathways/{pathway_id}"
    assert requests_counted(after, pathway, "401") == requests_counted(before, pathway, "401") + 1
    # A trailing-slash redirect matched no route: no raw path in a label, whatever the client sent.
    assert requests_counted(after, "none", "307") == requests_counted(before, "none", "307") + 1
    label_values = {value for _name, labels in scrape(client) for _label, value in labels}
    assert not [value for value in label_values if "fam-metrics" in value or "4242" in value or "987654" in value]
    latency = [
        value
        for (name, labels), value in after.items()
        if name == "http_request_duration_seconds_count" and ("handler", template) in labels
    ]
    assert sum(latency) >= 2


def test_every_route_has_its_label_and_latency_buckets_from_5_ms_to_10_s(client):
    before = scrape(client)
    assert client.get("/openapi.json").status_code == 200
    after = scrape(client)
    assert requests_counted(after, "/openapi.json", "200") == requests_counted(before, "/openapi.json", "200") + 1
    buckets = {
        float(dict(labels)["le"])
        for (name, labels), _value in after.items()
        if name == "http_request_duration_seconds_bucket" and ("handler", "/openapi.json") in labels
    }
    assert {0.005, 0.05, 0.1, 1.0, 10.0, float("inf")} <= buckets


def test_metrics_live_outside_the_api_and_its_document(client):
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
    assert client.get("/api/v1/metrics").status_code == 404
    before = scrape(client)
    after = scrape(client)
    assert not any(("handler", "/metrics") in labels for _name, labels in after)  # scrapes are not counted
    assert before.keys() <= after.keys()


def test_pdi_metrics_false_turns_it_off():
    app = create_app(get_settings().model_copy(update={"metrics": False}))
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/healthz").status_code == 200


def test_the_pool_gauges_read_the_engines_pool_at_scrape_time(app, client):
    engine = make_engine(TEST_DATABASE_URL, pool_size=2, max_overflow=3)
    app.dependency_overrides[get_engine] = lambda: engine
    held = [engine.connect() for _ in range(3)]  # the pool's 2, and one beyond them
    try:
        samples = scrape(client)
        assert samples[("pdi_db_pool_size", frozenset())] == 2
        assert samples[("pdi_db_pool_checked_out", frozenset())] == 3
        assert samples[("pdi_db_pool_overflow", frozenset())] == 1
        for connection in held:
            connection.close()
        samples = scrape(client)
        assert samples[("pdi_db_pool_checked_out", frozenset())] == 0
        assert samples[("pdi_db_pool_overflow", frozenset())] == 0
    finally:
        for connection in held:
            connection.close()
        engine.dispose()


def seats(samples: dict, action: str) -> float | None:
    return samples.get(("pdi_seats_available", frozenset({"action": action}.items())))


def test_seats_available_per_action_as_availability_counts_them(client, session):
    today = clock.today()
    running = {"start_on": today - timedelta(days=200), "end_on": today + timedelta(days=200)}
    action = factories.action(session, code="act-seats")
    other_action = factories.action(session, code="act-seats-other")
    budget_only_action = factories.action(session, code="act-seats-budget")

    # 10 places all year: 10 seats; 3 people in, 2 prescribed = 5 available.
    ten = factories.convention(session, action_id=action.id, years={today.year: {"places": 10}}, **running)
    for _ in range(3):
        factories.pathway(session, convention_id=ten.id, entered_on=today - timedelta(days=30))
    for _ in range(2):
        factories.pathway(session, convention_id=ten.id, prescribed_on=today - timedelta(days=3))
    # Neither occupies nor reserves a seat: a person gone yesterday, a prescription cancelled.
    factories.pathway(
        session,
        convention_id=ten.id,
        entered_on=today - timedelta(days=60),
        exited_on=today - timedelta(days=1),
        exit_reason="training",
    )
    factories.pathway(
        session,
        convention_id=ten.id,
        prescribed_on=today - timedelta(days=9),
        cancelled_on=today - timedelta(days=2),
        cancel_reason="test",
    )
    # 6 places for 6 months: ⌊6 × 6 / 12⌋ = 3 seats, 4 people in: overbooked, 0 available (not -1).
    six = factories.convention(
        session, action_id=action.id, years={today.year: {"places": 6, "months_per_place": 6}}, **running
    )
    for _ in range(4):
        factories.pathway(session, convention_id=six.id, entered_on=today - timedelta(days=10))
    # Not running today: ended yesterday; a draft.
    factories.convention(
        session,
        action_id=action.id,
        years={today.year: {"places": 50}},
        start_on=today - timedelta(days=200),
        end_on=today - timedelta(days=1),
    )
    factories.convention(session, action_id=action.id, years={today.year: {"places": 50}}, status="draft", **running)
    # Another action: 2 empty seats. An action funded by budget only has no seat count at all.
    factories.convention(session, action_id=other_action.id, years={today.year: {"places": 2}}, **running)
    factories.convention(
        session, action_id=budget_only_action.id, years={today.year: {"places": None, "budget": 1000}}, **running
    )
    session.commit()

    samples = scrape(client)
    assert seats(samples, "act-seats") == 5 + 0
    assert seats(samples, "act-seats-other") == 2
    assert seats(samples, "act-seats-budget") is None

    # The same sums as GET /availability's items, read the same day.
    items = client.get("/api/v1/availability", params={"action": "act-seats", "size": 500}).json()["items"]
    assert sum(item["available"] for item in items) == 5
