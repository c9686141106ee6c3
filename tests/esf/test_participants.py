"""The participant at entry (SPEC C9): checked values, stored per pathway, read by admin and the
pathway's operator only, listed when incomplete; and the leaving fields of exits."""

import pytest

from tests.esf.conftest import API, COMPLETE, post_pathway


def test_the_operator_records_and_reads_back_the_participant(client, esf, admin):
    created = post_pathway(
        client, esf.operator_key, esf.cofunded.id, "P-1", entered_on="2020-01-06", participant=COMPLETE
    )
    assert created["participant"] | {} == {
        **COMPLETE,
        "qualification_gained": None,
        "labour_status_on_leaving": None,
        "complete": True,
        "situation_on_leaving": None,
    }
    for headers in (esf.operator_key, admin):
        read = client.get(f"{API}/pathways/{created['id']}", headers=headers).json()
        assert read["participant"]["labour_status"] == "long_term_unemployed"
        assert read["participant"]["complete"] is True


def test_a_correction_overwrites_the_fields_given_and_moves_the_etag(client, esf):
    created = post_pathway(
        client,
        esf.operator_key,
        esf.cofunded.id,
        "P-2",
        entered_on="2020-01-06",
        participant={"education": "isced_3_4"},
    )
    assert created["participant"]["complete"] is False
    first = client.get(f"{API}/pathways/{created['id']}", headers=esf.operator_key)
    patched = client.patch(
        f"{API}/pathways/{created['id']}",
        json={"participant": COMPLETE | {"education": "isced_5_8"}},
        headers=esf.operator_key | {"If-Match": first.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["ETag"] != first.headers["ETag"]
    again = client.get(f"{API}/pathways/{created['id']}", headers=esf.operator_key)
    assert again.json()["participant"]["education"] == "isced_5_8"
    assert again.json()["participant"]["complete"] is True
    assert again.headers["ETag"] == patched.headers["ETag"]
    stale = client.patch(
        f"{API}/pathways/{created['id']}",
        json={"participant": {"minority": "no"}},
        headers=esf.operator_key | {"If-Match": first.headers["ETag"]},
    )
    assert stale.status_code == 412


@pytest.mark.parametrize(
    "participant",
    [
        {"labour_status": "retired"},
        {"education": "isced_9"},
        {"disability": True},
        {"homeless": "maybe"},
        {"labour_status_on_leaving": "employed"},
        {"unknown_field": "yes"},
    ],
)
def test_values_outside_the_lists_are_refused(client, esf, participant):
    body = {"convention_id": esf.cofunded.id, "beneficiary_ref": "P-3", "prescribed_on": "2020-01-02"}
    response = client.post(f"{API}/pathways", json=body | {"participant": participant}, headers=esf.operator_key)
    assert response.status_code == 422, response.text
    assert client.get(f"{API}/pathways", headers=esf.operator_key).json()["total"] == 0


def test_no_role_but_admin_and_the_operator_sees_the_participant(client, esf, admin):
    """Portal keys (the pathway they created), their feed items, readers: no `participant` key."""
    created = post_pathway(client, esf.portal_key, esf.cofunded.id, "P-4", prescribed_on="2020-01-02")
    assert "participant" not in created
    forbidden = client.post(
        f"{API}/pathways",
        json={
            "convention_id": esf.cofunded.id,
            "beneficiary_ref": "P-5",
            "prescribed_on": "2020-01-02",
            "participant": COMPLETE,
        },
        headers=esf.portal_key,
    )
    assert forbidden.status_code == 403
    patched = client.patch(f"{API}/pathways/{created['id']}", json={"participant": COMPLETE}, headers=admin)
    assert patched.status_code == 200 and patched.json()["participant"]["complete"] is True

    portal_read = client.get(f"{API}/pathways/{created['id']}", headers=esf.portal_key)
    assert portal_read.status_code == 200 and "participant" not in portal_read.json()
    portal_list = client.get(f"{API}/pathways", headers=esf.portal_key).json()["items"]
    assert portal_list and all("participant" not in item for item in portal_list)
    assert client.get(f"{API}/pathways/{created['id']}", headers=esf.reader_key).status_code == 403

    def feed_items(headers):
        items = client.get(f"{API}/changes", params={"limit": 1000}, headers=headers).json()["items"]
        return [item for item in items if item["kind"] == "pathway" and item["id"] == str(created["id"])]

    (portal_item,) = feed_items(esf.portal_key)
    assert "participant" not in portal_item["data"]
    assert not feed_items(esf.reader_key)
    (admin_item,) = feed_items(admin)
    assert admin_item["data"]["participant"]["complete"] is True
    (operator_item,) = feed_items(esf.operator_key)
    assert operator_item["data"]["participant"]["disability"] == "yes"
    assert not feed_items(esf.other_operator_key)
    assert "disability" not in str(client.get(f"{API}/pathways/{created['id']}", headers=esf.portal_key).json())


def test_incomplete_lists_the_co_funded_entries_without_a_complete_record(client, esf, admin):
    complete = post_pathway(
        client, esf.operator_key, esf.cofunded.id, "I-1", entered_on="2020-02-03", participant=COMPLETE
    )
    partial = post_pathway(
        client,
        esf.operator_key,
        esf.cofunded.id,
        "I-2",
        entered_on="2020-02-03",
        participant={"education": "isced_0_2"},
    )
    missing = post_pathway(client, esf.operator_key, esf.cofunded.id, "I-3", entered_on="2020-03-03")
    post_pathway(client, esf.operator_key, esf.plain.id, "I-4", entered_on="2020-03-03")  # no FSE: not asked
    post_pathway(client, esf.operator_key, esf.cofunded.id, "I-5", prescribed_on="2020-03-03")  # not entered
    other = post_pathway(client, esf.other_operator_key, esf.other_cofunded.id, "I-6", entered_on="2020-03-03")
    mine = client.get(f"{API}/esf/incomplete", params={"year": 2020}, headers=esf.operator_key).json()
    assert mine["items"] == [partial["id"], missing["id"]] and mine["total"] == 2
    assert complete["id"] not in mine["items"]
    everyone = client.get(f"{API}/esf/incomplete", params={"year": 2020}, headers=admin).json()
    assert everyone["items"] == [partial["id"], missing["id"], other["id"]]
    assert client.get(f"{API}/esf/incomplete", params={"year": 2019}, headers=admin).json()["items"] == []
    assert client.get(f"{API}/esf/incomplete", params={"year": 2020}, headers=esf.reader_key).status_code == 403
    assert client.get(f"{API}/esf/incomplete", params={"year": 2020}, headers=esf.portal_key).status_code == 403


def test_an_exit_records_the_situation_on_leaving(client, esf):
    ids = {}
    for ref in ("L-1", "L-2", "L-3", "L-4"):
        ids[ref] = post_pathway(client, esf.operator_key, esf.cofunded.id, ref, entered_on="2020-01-06")["id"]
    answers = {
        "L-1": {"exit_reason": "employment_cdi", "qualification_gained": True},
        "L-2": {"exit_reason": "training", "labour_status_on_leaving": "inactive"},
        "L-3": {"exit_reason": "dropped_out", "labour_status_on_leaving": "inactive"},
        "L-4": {"exit_reason": "moved"},
    }
    for ref, body in answers.items():
        response = client.post(
            f"{API}/pathways/{ids[ref]}/exit", json={"exited_on": "2020-05-05", **body}, headers=esf.operator_key
        )
        assert response.status_code == 200, response.text
    situations = {
        ref: client.get(f"{API}/pathways/{ids[ref]}", headers=esf.operator_key).json()["participant"] for ref in ids
    }
    assert situations["L-1"]["situation_on_leaving"] == "employed"
    assert situations["L-1"]["qualification_gained"] is True
    assert situations["L-2"]["situation_on_leaving"] == "in_education"
    assert situations["L-3"]["situation_on_leaving"] == "inactive"
    assert situations["L-4"]["situation_on_leaving"] == "job_searching"
    # The same exit again is fine; with another leaving status it is a conflict.
    same = client.post(
        f"{API}/pathways/{ids['L-3']}/exit",
        json={"exited_on": "2020-05-05", **answers["L-3"]},
        headers=esf.operator_key,
    )
    assert same.status_code == 200
    other = client.post(
        f"{API}/pathways/{ids['L-3']}/exit",
        json={"exited_on": "2020-05-05", "exit_reason": "dropped_out", "labour_status_on_leaving": "job_searching"},
        headers=esf.operator_key,
    )
    assert other.status_code == 409
    refused = client.post(
        f"{API}/pathways/{ids['L-4']}/exit",
        json={"exited_on": "2020-05-05", "exit_reason": "moved", "labour_status_on_leaving": "retired"},
        headers=esf.operator_key,
    )
    assert refused.status_code == 422


def test_an_exit_batch_completes_the_records_it_finds_without_erasing_them(client, esf):
    """Pathways that have a record already: the batch's leaving fields are written into it, a
    field not given keeps its value, the entry fields stay; one without a record gets one."""
    recorded = {**COMPLETE, "labour_status_on_leaving": "inactive"}
    ids = [
        post_pathway(
            client, esf.operator_key, esf.cofunded.id, f"X-{n}", entered_on="2020-01-06", participant=recorded
        )["id"]
        for n in range(2)
    ] + [post_pathway(client, esf.operator_key, esf.cofunded.id, "X-2", entered_on="2020-01-06")["id"]]
    items = [
        {"pathway_id": ids[0], "exited_on": "2020-06-01", "exit_reason": "other", "qualification_gained": True},
        {
            "convention_id": esf.cofunded.id,
            "beneficiary_ref": "X-1",
            "entered_on": "2020-01-06",
            "exited_on": "2020-06-01",
            "exit_reason": "other",
            "labour_status_on_leaving": "job_searching",
        },
        {"pathway_id": ids[2], "exited_on": "2020-06-01", "exit_reason": "other", "qualification_gained": False},
    ]
    answer = client.post(f"{API}/exit-records", json=items, headers=esf.operator_key).json()
    assert answer["counts"] == {"created": 3, "unchanged": 0, "error": 0}
    records = [
        client.get(f"{API}/pathways/{pathway_id}", headers=esf.operator_key).json()["participant"] for pathway_id in ids
    ]
    assert [(r["qualification_gained"], r["labour_status_on_leaving"], r["complete"]) for r in records] == [
        (True, "inactive", True),
        (None, "job_searching", True),
        (False, None, False),
    ]
    assert all(records[n]["education"] == COMPLETE["education"] for n in range(2))


def test_exit_batches_take_the_leaving_fields_in_json_and_csv(client, esf):
    first = post_pathway(client, esf.operator_key, esf.cofunded.id, "B-1", entered_on="2020-01-06")["id"]
    second = post_pathway(client, esf.operator_key, esf.cofunded.id, "B-2", entered_on="2020-01-06")["id"]
    answer = client.post(
        f"{API}/exit-records",
        json=[
            {
                "pathway_id": first,
                "exited_on": "2020-06-01",
                "exit_reason": "other",
                "qualification_gained": True,
                "labour_status_on_leaving": "inactive",
            }
        ],
        headers=esf.operator_key,
    ).json()
    assert answer["counts"] == {"created": 1, "unchanged": 0, "error": 0}
    csv_body = (
        "pathway_id,exited_on,exit_reason,qualification_gained,labour_status_on_leaving\n"
        f"{second},2020-06-01,completed,false,\n"
        f"{first},2020-06-01,other,true,inactive\n"
        f"{first},2020-06-01,other,true,job_searching\n"
    )
    answer = client.post(
        f"{API}/exit-records", content=csv_body, headers=esf.operator_key | {"Content-Type": "text/csv"}
    ).json()
    assert [result["status"] for result in answer["results"]] == ["created", "unchanged", "error"]
    assert answer["results"][2]["problem"]["status"] == 409
    one = client.get(f"{API}/pathways/{first}", headers=esf.operator_key).json()["participant"]
    two = client.get(f"{API}/pathways/{second}", headers=esf.operator_key).json()["participant"]
    assert (one["qualification_gained"], one["situation_on_leaving"]) == (True, "inactive")
    assert (two["qualification_gained"], two["situation_on_leaving"]) == (False, "job_searching")


def test_a_consolidated_year_keeps_its_participant_records(client, session, esf):
    from tests.pathways.helpers import consolidate

    pathway = post_pathway(client, esf.operator_key, esf.cofunded.id, "K-1", entered_on="2019-03-04")
    exited = client.post(
        f"{API}/pathways/{pathway['id']}/exit",
        json={"exited_on": "2020-02-03", "exit_reason": "other"},
        headers=esf.operator_key,
    )
    assert exited.status_code == 200
    consolidate(session, 2019)
    refused = client.patch(f"{API}/pathways/{pathway['id']}", json={"participant": COMPLETE}, headers=esf.operator_key)
    assert refused.status_code == 409
    read = client.get(f"{API}/pathways/{pathway['id']}", headers=esf.operator_key).json()
    assert read["participant"]["labour_status"] is None
    # The leaving fields count in 2020, still open.
    allowed = client.patch(
        f"{API}/pathways/{pathway['id']}",
        json={"participant": {"qualification_gained": True}},
        headers=esf.operator_key,
    )
    assert allowed.status_code == 200 and allowed.json()["participant"]["qualification_gained"] is True
