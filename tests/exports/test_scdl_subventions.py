"""GET /exports/scdl/subventions: the convention years of a year as the SCDL subventions format
2.1.1, valid for validata-table (the schema's own validator and custom checks), and the years
that cannot make a valid row left out and listed (SPEC C12)."""

from datetime import date

import pytest
from stdnum import luhn

from tests import factories
from tests.exports.validata import FIXTURES, validata_report

pytestmark = pytest.mark.slow

API = "/api/v1/exports/scdl/subventions"
YEAR = 2019


def a_siret(number: int) -> str:
    """A SIRET whose check digits are right, its SIREN's and its own (the schema's custom check
    verifies them): `number` gives the SIREN's first 8 digits and the establishment's 4."""
    siren = f"{number // 10_000:08d}"
    siren += luhn.calc_check_digit(siren)
    body = siren + f"{number % 10_000:04d}"
    return body + luhn.calc_check_digit(body)


DEPARTEMENT_SIRET = a_siret(22720002_0001)


@pytest.fixture
def grantor(export_settings):
    export_settings(departement_siret=DEPARTEMENT_SIRET, departement_name="Sarthe")


@pytest.fixture
def signed(client, session, admin, grantor):
    """A convention signed on 2018-12-14 whose operator has a SIRET, written through the API."""
    operator = factories.operator(session, name="Association Tremplin", siret=a_siret(42424242_0001))
    action = factories.action(session, name="Atelier numérique")
    response = client.post(
        "/api/v1/conventions",
        headers=admin,
        json={
            "reference": "CONV-SCDL-1",
            "action": action.code,
            "operator_id": operator.id,
            "start_on": "2019-03-01",
            "end_on": "2020-12-31",
            "signed_on": "2018-12-14",
            "decision_reference": "CP-2018-12-07-42",
            "years": [
                {"year": YEAR, "budget": "48500.50", "budget_kind": "agreed", "fse_amount": "10000"},
                {"year": 2020, "budget": "50000", "budget_kind": "forecast"},
            ],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_the_export_is_valid_for_validata(client, signed, tmp_path):
    response = client.get(API, params={"year": YEAR})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    csv_file = tmp_path / "subventions.csv"
    csv_file.write_bytes(response.content)

    report = validata_report(csv_file)
    assert report["valid"], report["errors"]
    assert report["stats"]["rows"] >= 1

    rows = client.get(API, params={"year": YEAR, "format": "json"}).json()["rows"]
    assert len(rows) == report["stats"]["rows"]
    (row,) = [row for row in rows if "CONV-SCDL-1" in row["objet"]]
    assert row == {
        "nomAttribuant": "Département Sarthe",
        "idAttribuant": DEPARTEMENT_SIRET,
        "dateConvention": "2018-12-14",
        "referenceDecision": "CP-2018-12-07-42",
        "nomBeneficiaire": "Association Tremplin",
        "idBeneficiaire": a_siret(42424242_0001),
        "rnaBeneficiaire": "",
        "objet": "Atelier numérique – 2019 – convention CONV-SCDL-1 – cofinancé par le FSE+",
        "montant": "48500.50",
        "nature": "aide en numéraire",
        "conditionsVersement": "échelonné",
        # The convention starts on 1 March: the year's days within it.
        "datesPeriodeVersement": "2019-03-01/2019-12-31",
        "idRAE": "",
        "notificationUE": "non",
        "pourcentageSubvention": "1",
        "dispositifAide": "Programme départemental d'insertion",
    }


def test_validata_refuses_what_the_schema_refuses(tmp_path):
    """The check itself can fail: the schema's own invalid example (wrong SIRETs, percentages)."""
    report = validata_report(FIXTURES / "scdl-subventions-exemple_invalide_erreurs_cellules.csv")
    assert not report["valid"]
    assert {error.get("fieldName") for error in report["errors"]} >= {"idAttribuant", "pourcentageSubvention"}


def test_a_year_without_siret_or_signature_is_left_out_and_listed(client, session, signed, tmp_path):
    no_siret = factories.convention(
        session,
        operator_id=factories.operator(session).id,
        signed_on=date(2018, 11, 1),
        years={YEAR: {"budget": 30000, "budget_kind": "agreed"}},
    )
    unsigned = factories.convention(
        session,
        operator_id=factories.operator(session, siret=a_siret(42424242_0002)).id,
        years={YEAR: {"budget": 30000, "budget_kind": "agreed"}},
    )
    forecast = factories.convention(
        session,
        operator_id=factories.operator(session, siret=a_siret(42424242_0003)).id,
        signed_on=date(2018, 11, 1),
        years={YEAR: {"budget": 30000, "budget_kind": "forecast"}},
    )
    body = client.get(API, params={"year": YEAR, "format": "json"}).json()
    left_out = {item["convention_id"]: item for item in body["left_out"]}
    assert left_out[no_siret.id] == {
        "convention_id": no_siret.id,
        "reference": no_siret.reference,
        "year": YEAR,
        "reason": f"the operator {no_siret.operator_id} has no SIRET (idBeneficiaire)",
    }
    assert "signed_on" in left_out[unsigned.id]["reason"]
    assert forecast.id not in left_out  # not agreed: no grant to publish, not a missing datum
    objects = " ".join(row["objet"] for row in body["rows"])
    for convention in (no_siret, unsigned, forecast):
        assert convention.reference not in objects
    # The seed's conventions give no signature date (the document gives none): all left out.
    assert any(item["reference"].startswith("PDI-") for item in body["left_out"])

    csv_file = tmp_path / "subventions.csv"
    csv_file.write_bytes(client.get(API, params={"year": YEAR}).content)
    assert validata_report(csv_file)["valid"]


def test_min_amount_keeps_the_grants_at_or_above_it(client, signed):
    rows = client.get(API, params={"year": YEAR, "format": "json", "min_amount": "48500.50"}).json()["rows"]
    assert [row["montant"] for row in rows if "CONV-SCDL-1" in row["objet"]] == ["48500.50"]
    rows = client.get(API, params={"year": YEAR, "format": "json", "min_amount": "48500.51"}).json()["rows"]
    assert not [row for row in rows if "CONV-SCDL-1" in row["objet"]]


def test_without_the_departement_siret_the_export_is_refused(client, export_settings):
    export_settings(departement_siret=None)
    response = client.get(API, params={"year": YEAR})
    assert response.status_code == 409
    assert "PDI_DEPARTEMENT_SIRET" in response.json()["detail"]


def test_signature_and_decision_are_read_changed_and_erased(client, admin, signed):
    url = f"/api/v1/conventions/{signed['id']}"
    assert (signed["signed_on"], signed["decision_reference"]) == ("2018-12-14", "CP-2018-12-07-42")
    changed = client.patch(url, headers=admin, json={"signed_on": "2018-12-20", "decision_reference": "D-1"})
    assert changed.status_code == 200, changed.text
    assert client.get(url, headers=admin).json()["signed_on"] == "2018-12-20"
    erased = client.patch(url, headers=admin, json={"signed_on": None, "decision_reference": None})
    assert erased.status_code == 200, erased.text
    assert (erased.json()["signed_on"], erased.json()["decision_reference"]) == (None, None)
