def test_healthz_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_readyz_is_503_when_the_database_is_unreachable(app, client):
    from app.core.engines import get_engine, make_engine

    # readyz takes its engine as a dependency: patching the module's name would not reach it.
    app.dependency_overrides[get_engine] = lambda: make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_unknown_path_is_a_problem_document(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


def test_a_page_number_past_any_list_is_a_422_not_a_database_overflow(client):
    # An offset beyond 64 bits used to reach the database and come back as a 500.
    response = client.get("/api/v1/families", params={"page": 10**22})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["loc"] == ["query", "page"]
