"""Conventions over HTTP: create, read, list, change, and who may do it."""

from datetime import date

import pytest
from sqlalchemy import event

from tests import factories
from tests.conventions.helpers import URL, assert_problem, audit_events, stored_counts


def test_create_answers_the_convention_with_its_defaults(client, admin, world, new_body):
    body = new_body(
        site_ids=[world.sites[1].id, world.sites[0].id],
        years=[
            {
                "year": 2020,
                "places": 12,
                "budget": 150000.5,
                "fse_amount": 50000,
                "hours_threshold": 150,
                "weekly_hours": None,
                "targets": {"entries": 20, "dynamic_exit_rate": 0.5},
            },
            {"year": 2018, "budget": 396000, "budget_kind": "forecast", "months_per_place": 1},
        ],
    )

    response = client.post(URL, json=body, headers=admin)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["reference"] == body["reference"]
    assert created["action"] == world.action.code
    assert created["operator_id"] == world.operator.id
    assert (created["start_on"], created["end_on"]) == ("2018-04-01", "2020-12-31")
    assert created["status"] == "active"
    assert created["site_ids"] == sorted([world.sites[0].id, world.sites[1].id])
    assert [line["year"] for line in created["years"]] == [2018, 2020]
    line_2018, line_2020 = created["years"]
    assert line_2018 == {
        "year": 2018,
        "places": None,
        "months_per_place": 1,
        "budget": 396000.0,
        "budget_kind": "forecast",
        "fse_amount": None,
        "hours_threshold": None,
        "weekly_hours": None,
        "targets": None,
    }
    assert line_2020 == {
        "year": 2020,
        "places": 12,
        "months_per_place": 12,
        "budget": 150000.5,
        "budget_kind": "agreed",
        "fse_amount": 50000.0,
        "hours_threshold": 150,
        "weekly_hours": None,
        "targets": {"entries": 20.0, "dynamic_exit_rate": 0.5},
    }
    assert response.headers["ETag"]
    assert response.headers["Location"].endswith(f"{URL}/{created['id']}")

    fetched = client.get(f"{URL}/{created['id']}", headers=admin)
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert fetched.headers["ETag"] == response.headers["ETag"]


def test_create_without_years_nor_sites(client, admin, new_body):
    response = client.post(URL, json=new_body(status="draft"), headers=admin)

    assert response.status_code == 201, response.text
    assert response.json()["years"] == []
    assert response.json()["site_ids"] == []
    assert response.json()["status"] == "draft"


def test_every_write_is_audited(client, admin, session, world, new_body):
    created = client.post(URL, json=new_body(years=[{"year": 2019, "places": 3}]), headers=admin).json()
    client.patch(f"{URL}/{created['id']}", json={"status": "ended", "site_ids": [world.sites[0].id]}, headers=admin)
    client.put(f"{URL}/{created['id']}/years/2020", json={"places": 4}, headers=admin)

    events = audit_events(session, created["id"])

    assert [event.action for event in events] == ["create", "update", "put_year"]
    assert {"reference", "action", "operator_id", "start_on", "end_on", "years.2019"} <= set(events[0].fields)
    assert events[1].fields == ["site_ids", "status"]
    assert events[2].fields == ["years.2020"]
    assert all(event.actor == "test admin" and event.api_key_id is not None for event in events)


def test_get_unknown_convention_is_404(client, admin):
    assert_problem(client.get(f"{URL}/2147483647", headers=admin), 404)


class TestAccess:
    def test_anonymous_cannot_read(self, client, session):
        convention = factories.convention(session)
        session.commit()

        assert_problem(client.get(URL), 401)
        assert_problem(client.get(f"{URL}/{convention.id}"), 401)

    @pytest.mark.parametrize("role", ["reader", "portal", "operator", "admin"])
    def test_any_key_can_read(self, client, session, make_key, role):
        convention = factories.convention(session)
        session.commit()
        headers = make_key(role, operator_id=convention.operator_id if role == "operator" else None)

        assert client.get(f"{URL}/{convention.id}", headers=headers).status_code == 200
        listed = client.get(URL, params={"operator": convention.operator_id}, headers=headers)
        assert [item["id"] for item in listed.json()["items"]] == [convention.id]

    def test_anonymous_cannot_write(self, client, session, new_body):
        before = stored_counts(session)

        assert_problem(client.post(URL, json=new_body()), 401)
        assert stored_counts(session) == before

    @pytest.mark.parametrize("role", ["reader", "portal", "operator"])
    def test_only_admin_writes(self, client, session, make_key, world, new_body, role):
        convention = factories.convention(session, operator_id=world.operator.id, action_id=world.action.id)
        session.commit()
        headers = make_key(role, operator_id=world.operator.id if role == "operator" else None)
        before_counts = stored_counts(session)
        before = client.get(f"{URL}/{convention.id}", headers=headers).json()

        assert_problem(client.post(URL, json=new_body(), headers=headers), 403)
        assert_problem(client.patch(f"{URL}/{convention.id}", json={"status": "ended"}, headers=headers), 403)
        assert_problem(client.put(f"{URL}/{convention.id}/years/2019", json={"places": 1}, headers=headers), 403)

        assert stored_counts(session) == before_counts
        assert client.get(f"{URL}/{convention.id}", headers=headers).json() == before


class TestList:
    @pytest.fixture
    def listed(self, session, world):
        """Three conventions of our operator (references out of creation order) and one of another."""
        other_action = factories.action(session)
        rows = {
            "b": factories.convention(
                session,
                reference=factories.unique("LIST-B"),
                operator_id=world.operator.id,
                action_id=world.action.id,
                years={2019: {"places": 2}, 2020: {"places": 3}},
                site_ids=[world.sites[0].id],
            ),
            "a": factories.convention(
                session,
                reference=factories.unique("LIST-A"),
                operator_id=world.operator.id,
                action_id=other_action.id,
                years={2020: {"places": 5}},
                status="ended",
            ),
            "c": factories.convention(
                session,
                reference=factories.unique("LIST-C"),
                operator_id=world.operator.id,
                action_id=world.action.id,
                site_ids=[world.sites[1].id, world.sites[0].id],
            ),
            "other": factories.convention(
                session, operator_id=world.other_operator.id, action_id=world.action.id, years={2019: {"places": 9}}
            ),
        }
        session.commit()
        return rows, other_action

    def ids(self, response):
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    def test_filters(self, client, reader, world, listed):
        rows, other_action = listed
        operator = {"operator": world.operator.id}

        assert self.ids(client.get(URL, params=operator, headers=reader)) == [rows[k].id for k in "abc"]
        assert self.ids(client.get(URL, params={**operator, "year": 2019}, headers=reader)) == [rows["b"].id]
        assert self.ids(client.get(URL, params={**operator, "year": 2020}, headers=reader)) == [
            rows["a"].id,
            rows["b"].id,
        ]
        assert self.ids(client.get(URL, params={**operator, "status": "ended"}, headers=reader)) == [rows["a"].id]
        assert self.ids(client.get(URL, params={"action": other_action.code}, headers=reader)) == [rows["a"].id]
        by_action = self.ids(client.get(URL, params={"action": world.action.code}, headers=reader))
        assert by_action == [rows["other"].id, rows["b"].id, rows["c"].id]  # CONV-… < LIST-B-… < LIST-C-…
        assert self.ids(client.get(URL, params={"action": "no-such-action"}, headers=reader)) == []

    def test_items_carry_years_and_sites(self, client, reader, world, listed):
        rows, _ = listed

        items = client.get(URL, params={"operator": world.operator.id}, headers=reader).json()["items"]

        by_id = {item["id"]: item for item in items}
        assert [line["year"] for line in by_id[rows["b"].id]["years"]] == [2019, 2020]
        assert by_id[rows["b"].id]["site_ids"] == [world.sites[0].id]
        assert by_id[rows["c"].id]["site_ids"] == sorted(site.id for site in world.sites)
        assert by_id[rows["a"].id]["years"][0]["places"] == 5

    def test_pages(self, client, reader, world, listed):
        rows, _ = listed

        first = client.get(URL, params={"operator": world.operator.id, "size": 2}, headers=reader).json()
        second = client.get(URL, params={"operator": world.operator.id, "size": 2, "page": 2}, headers=reader).json()

        assert (first["total"], first["page"], first["size"]) == (3, 1, 2)
        assert [item["id"] for item in first["items"] + second["items"]] == [rows[k].id for k in "abc"]

    def test_bad_filters_are_422(self, client, reader):
        assert_problem(client.get(URL, params={"status": "lost"}, headers=reader), 422)
        assert_problem(client.get(URL, params={"operator": "x"}, headers=reader), 422)
        assert_problem(client.get(URL, params={"year": 10**12}, headers=reader), 422)

    def test_a_page_is_read_in_a_constant_number_of_queries(self, client, reader, session, engine, world):
        crowded, lonely = factories.operator(session), factories.operator(session)
        for operator, count in ((crowded, 6), (lonely, 1)):
            for _ in range(count):
                site = factories.site(session, operator_id=operator.id)
                factories.convention(
                    session,
                    operator_id=operator.id,
                    site_ids=[site.id],
                    years={2019: {"places": 1}, 2020: {"places": 2}},
                )
        session.commit()

        def queries_to_list(operator_id: int) -> int:
            statements = []

            def count(*_args):
                statements.append(1)

            event.listen(engine, "before_cursor_execute", count)
            try:
                response = client.get(URL, params={"operator": operator_id}, headers=reader)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            assert all(item["years"] and item["site_ids"] for item in response.json()["items"])
            return len(statements)

        client.get(URL, headers=reader)  # the key's first use is noted once (a write), not on every call
        assert queries_to_list(crowded.id) == queries_to_list(lonely.id)


class TestPatch:
    def test_patch_changes_the_given_fields_only(self, client, admin, session, world):
        convention = factories.convention(
            session,
            operator_id=world.operator.id,
            action_id=world.action.id,
            site_ids=[world.sites[0].id],
            years={2019: {"places": 4}},
        )
        session.commit()
        before = client.get(f"{URL}/{convention.id}", headers=admin)
        new_reference = factories.unique("RENAMED")

        response = client.patch(
            f"{URL}/{convention.id}",
            json={
                "reference": new_reference,
                "status": "ended",
                "end_on": "2019-12-31",
                "site_ids": [world.sites[1].id],
            },
            headers={**admin, "If-Match": before.headers["ETag"]},
        )

        assert response.status_code == 200, response.text
        after = response.json()
        assert after["reference"] == new_reference
        assert after["status"] == "ended"
        assert (after["start_on"], after["end_on"]) == ("2018-01-01", "2019-12-31")
        assert after["site_ids"] == [world.sites[1].id]
        assert after["years"] == before.json()["years"]
        assert response.headers["ETag"] != before.headers["ETag"]
        assert client.get(f"{URL}/{convention.id}", headers=admin).headers["ETag"] == response.headers["ETag"]

    def test_empty_site_ids_removes_every_site(self, client, admin, session, world):
        convention = factories.convention(session, operator_id=world.operator.id, site_ids=[world.sites[0].id])
        session.commit()

        response = client.patch(f"{URL}/{convention.id}", json={"site_ids": []}, headers=admin)

        assert response.status_code == 200, response.text
        assert response.json()["site_ids"] == []

    def test_etag_survives_a_fresh_read_from_the_database(self, client, admin, session, world):
        """A new request reads rows back from the database (naive datetimes on SQLite, rounded
        decimals): the tag the write answered must still match."""
        convention = factories.convention(session, operator_id=world.operator.id)
        session.commit()
        written = client.put(
            f"{URL}/{convention.id}/years/2019",
            json={"budget": 1000, "fse_amount": 250.5, "targets": {"entries": 3}},
            headers=admin,
        )
        assert written.status_code == 201, written.text
        session.expire_all()

        fresh = client.get(f"{URL}/{convention.id}", headers=admin)

        assert fresh.json() == written.json()
        assert fresh.headers["ETag"] == written.headers["ETag"]
        session.expire_all()
        followed = client.patch(
            f"{URL}/{convention.id}", json={"status": "ended"}, headers={**admin, "If-Match": written.headers["ETag"]}
        )
        assert followed.status_code == 200, followed.text

    def test_unknown_convention_is_404(self, client, admin):
        assert_problem(client.patch(f"{URL}/2147483647", json={"status": "ended"}, headers=admin), 404)
        assert_problem(client.put(f"{URL}/2147483647/years/2019", json={}, headers=admin), 404)


class TestPutYear:
    def test_put_creates_then_replaces_a_line(self, client, admin, session, world):
        convention = factories.convention(
            session, operator_id=world.operator.id, start_on=date(2018, 4, 1), end_on=date(2020, 12, 31)
        )
        session.commit()

        created = client.put(
            f"{URL}/{convention.id}/years/2018",
            json={"places": 10, "budget": 5000, "fse_amount": 1000, "hours_threshold": 300, "targets": {"entries": 8}},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        assert created.headers["ETag"]
        assert created.json()["years"] == [
            {
                "year": 2018,
                "places": 10,
                "months_per_place": 12,
                "budget": 5000.0,
                "budget_kind": "agreed",
                "fse_amount": 1000.0,
                "hours_threshold": 300,
                "weekly_hours": None,
                "targets": {"entries": 8.0},
            }
        ]

        replaced = client.put(
            f"{URL}/{convention.id}/years/2018",
            json={"year": 2018, "places": 6, "months_per_place": 1, "budget_kind": "forecast"},
            headers={**admin, "If-Match": created.headers["ETag"]},
        )
        assert replaced.status_code == 200, replaced.text
        # PUT replaces the whole line: fields not sent are back to their defaults.
        assert replaced.json()["years"] == [
            {
                "year": 2018,
                "places": 6,
                "months_per_place": 1,
                "budget": None,
                "budget_kind": "forecast",
                "fse_amount": None,
                "hours_threshold": None,
                "weekly_hours": None,
                "targets": None,
            }
        ]
        assert replaced.headers["ETag"] not in (created.headers["ETag"], None)

        added = client.put(f"{URL}/{convention.id}/years/2020", json={"places": 1}, headers=admin)
        assert added.status_code == 201
        assert [line["year"] for line in added.json()["years"]] == [2018, 2020]
        assert client.get(f"{URL}/{convention.id}", headers=admin).json() == added.json()
