"""GET /periods, POST /periods/{year}/consolidate and /reopen."""

from datetime import date

import pytest
from sqlmodel import select

from app.audit.models import AuditEvent
from app.core.errors import PeriodConsolidated
from app.core.time import today
from app.periods.models import Period
from app.periods.service import ensure_open
from tests import factories

URL = "/api/v1/periods"


def audit_events(session, year: int) -> list[tuple[str, str]]:
    rows = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == "period", AuditEvent.entity_id == str(year))
        .order_by(AuditEvent.id)
    )
    return [(event.action, event.actor) for event in rows]


def all_periods(client, headers) -> dict[int, dict]:
    body = client.get(URL, params={"size": 500}, headers=headers).json()
    return {item["year"]: item for item in body["items"]}


def test_admin_consolidates_then_reopens_a_year_each_time_audited(client, session, make_key):
    admin = make_key("admin", name="la DSI")
    response = client.post(f"{URL}/2019/consolidate", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["year"], body["status"]) == (2019, "consolidated")
    assert body["consolidated_at"] is not None
    assert audit_events(session, 2019) == [("consolidate", "la DSI")]
    with pytest.raises(PeriodConsolidated):
        ensure_open(session=session, days=[date(2019, 5, 1)])

    response = client.post(f"{URL}/2019/reopen", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"year": 2019, "status": "open", "consolidated_at": None}
    assert audit_events(session, 2019) == [("consolidate", "la DSI"), ("reopen", "la DSI")]
    ensure_open(session=session, days=[date(2019, 5, 1)])


def test_consolidating_twice_is_a_conflict_that_keeps_the_first_consolidation(client, session, admin):
    first = client.post(f"{URL}/2020/consolidate", headers=admin).json()
    response = client.post(f"{URL}/2020/consolidate", headers=admin)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "already consolidated" in response.json()["detail"]
    assert all_periods(client, admin)[2020]["consolidated_at"] == first["consolidated_at"]
    assert audit_events(session, 2020) == [("consolidate", "test admin")]


def test_reopening_an_open_year_is_a_conflict(client, session, admin):
    response = client.post(f"{URL}/2018/reopen", headers=admin)
    assert response.status_code == 409
    assert session.get(Period, 2018) is None
    assert audit_events(session, 2018) == []


@pytest.mark.parametrize("year", [today().year + 1, 1999, 12019])
def test_a_future_or_implausible_year_cannot_be_consolidated(client, session, admin, year):
    response = client.post(f"{URL}/{year}/consolidate", headers=admin)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"] == [{"loc": ["path", "year"], "msg": body["detail"]}]
    assert session.get(Period, year) is None
    assert audit_events(session, year) == []


def test_a_year_that_is_not_a_number_is_a_422(client, admin):
    response = client.post(f"{URL}/last/consolidate", headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "year"]


def test_the_current_year_can_be_consolidated(client, admin):
    assert client.post(f"{URL}/{today().year}/consolidate", headers=admin).status_code == 200


def test_only_admins_consolidate_and_any_key_lists(client, session, make_key, reader, portal):
    for path in ("2019/consolidate", "2019/reopen"):
        assert client.post(f"{URL}/{path}").status_code == 401
        assert client.post(f"{URL}/{path}", headers=reader).status_code == 403
        assert client.post(f"{URL}/{path}", headers=portal).status_code == 403
    assert session.get(Period, 2019) is None
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=portal).status_code == 200
    assert client.get(URL, headers=reader).status_code == 200
    assert client.get(URL, headers=make_key("admin")).status_code == 200


def test_periods_lists_years_with_convention_years_or_a_period_oldest_first(client, session, admin, reader):
    factories.convention(
        session, start_on=date(2096, 1, 1), end_on=date(2097, 12, 31), years={2096: {"places": 1}, 2097: {"places": 1}}
    )
    session.commit()
    assert client.post(f"{URL}/2003/consolidate", headers=admin).status_code == 200
    assert client.post(f"{URL}/2004/consolidate", headers=admin).status_code == 200
    assert client.post(f"{URL}/2004/reopen", headers=admin).status_code == 200

    body = client.get(URL, params={"size": 500}, headers=reader).json()
    years = [item["year"] for item in body["items"]]
    assert years == sorted(years)
    assert body["total"] == len(years)
    periods = {item["year"]: item for item in body["items"]}
    assert periods[2003]["status"] == "consolidated"
    assert periods[2004] == {"year": 2004, "status": "open", "consolidated_at": None}
    assert periods[2096] == {"year": 2096, "status": "open", "consolidated_at": None}
    assert 2097 in periods
    assert 2005 not in periods or periods[2005]["status"] == "open"

    second_page = client.get(URL, params={"size": 1, "page": 2}, headers=reader).json()
    assert second_page["items"] == [body["items"][1]]
    assert second_page["total"] == body["total"]


@pytest.mark.parametrize(
    "change",
    [{"family": "new-family"}, {"indicators": ["persons_present"]}],
    ids=["moved to another family", "its bilan table changed"],
)
def test_catalogue_edits_that_change_a_consolidated_year_are_refused(client, session, admin, change):
    """Moving an action or changing its table would rewrite a consolidated year's bilan."""
    from tests import factories

    factories.family(session, code="new-family")
    action = factories.action(session, indicators=["entries"])
    factories.convention(session, action_id=action.id, years={2019: {"places": 2}, 2020: {"places": 2}})
    session.commit()
    assert client.post(f"{URL}/2019/consolidate", headers=admin).status_code == 200
    refused = client.patch(f"/api/v1/actions/{action.code}", json=change, headers=admin)
    assert refused.status_code == 409 and refused.json()["type"].endswith("/period-consolidated")
    assert client.patch(f"/api/v1/actions/{action.code}", json={"name": "Renommée"}, headers=admin).status_code == 200
    assert client.post(f"{URL}/2019/reopen", headers=admin).status_code == 200
    assert client.patch(f"/api/v1/actions/{action.code}", json=change, headers=admin).status_code == 200
