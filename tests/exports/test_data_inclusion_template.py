"""GET /exports/data-inclusion/template.xlsx: the offer in data·inclusion's publication template,
each row valid for the data·inclusion schema's package once read back as the valideur reads the
template (SPEC C12)."""

import io
from datetime import date, datetime, timedelta

import pytest
from data_inclusion.schema import v1
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.catalogue.models import Action, Site
from app.core import time as clock
from tests import factories
from tests.exports.test_data_inclusion_export import DATA_INCLUSION

URL = "/api/v1/exports/data-inclusion/template.xlsx"
WARNINGS_ON = {"ignore_warnings": False}
LISTS = {"reseaux_porteurs", "thematiques", "publics", "modes_accueil", "zone_eligibilite", "modes_mobilisation"}
LISTS |= {"mobilisable_par"}


def valideur_rows(sheet) -> list[dict]:
    """A sheet read as the template says: the header row's field names, rows marked in
    `__ignore__` skipped, empty cells absent, comma-separated lists split (written here apart
    from the service's reader, so that the two cannot share a mistake)."""
    rows = sheet.iter_rows(values_only=True)
    header = next(rows)
    result = []
    for values in rows:
        fields = dict(zip(header, values, strict=True))
        if fields.pop("__ignore__"):
            continue
        item = {}
        for name, value in fields.items():
            if value is None:
                continue
            if isinstance(value, datetime):
                value = value.date()
            if name in LISTS:
                value = [part.strip() for part in value.split(",")]
            item[name] = value
        result.append(item)
    return result


@pytest.fixture
def running_today(session):
    today = clock.today()
    operator = factories.operator(
        session, name="Association Tremplin", siret="13003013300016", email="accueil@tremplin.fr", phone="0243000000"
    )
    site = factories.site(
        session, operator_id=operator.id, name="=1+1 Tremplin", commune="Le Mans", postcode="72000", insee_code="72181"
    )
    action = factories.action(
        session,
        name="Atelier numérique",
        description="Un mois pour se servir d'un ordinateur et d'Internet au quotidien.",
        **DATA_INCLUSION,
    )
    convention = factories.convention(
        session,
        action_id=action.id,
        operator_id=operator.id,
        start_on=today - timedelta(days=30),
        end_on=today + timedelta(days=300),
        years={today.year: {"places": 10}},
        site_ids=[site.id],
    )
    return site, convention


def test_the_template_reads_back_valid_for_the_schema(client, session, running_today, export_settings):
    export_settings(source="cd72")
    site, convention = running_today
    response = client.get(URL)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Structures", "Services"]
    for sheet in workbook.worksheets:
        assert sheet["A1"].value == "__ignore__"
        assert sheet["A2"].value is True  # the description row
        assert sheet["B2"].value and " " in sheet["B2"].value

    structures = valideur_rows(workbook["Structures"])
    # The valideur knows the producer (source) it publishes for: the template has no column for it.
    validated = [v1.Structure.model_validate(row | {"source": "cd72"}, context=WARNINGS_ON) for row in structures]
    assert len(validated) == session.execute(select(func.count()).select_from(Site)).scalar_one()
    (ours,) = [structure for structure in validated if structure.id == f"cd72--site-{site.id}"]
    assert (ours.siret, ours.code_postal, ours.code_insee, ours.date_maj) == (
        "13003013300016",
        "72000",
        "72181",
        date.today(),
    )

    services = valideur_rows(workbook["Services"])
    validated = [v1.Service.model_validate(row | {"source": "cd72"}, context=WARNINGS_ON) for row in services]
    (ours,) = [service for service in validated if service.id == f"cd72--convention-{convention.id}-site-{site.id}"]
    assert ours.structure_id == f"cd72--site-{site.id}"
    assert {str(theme) for theme in ours.thematiques} == set(DATA_INCLUSION["thematiques"])
    assert ours.zone_eligibilite == ["72"]


def test_lists_are_comma_separated_cells_and_text_is_never_a_formula(client, running_today):
    site, convention = running_today
    workbook = load_workbook(io.BytesIO(client.get(URL).content))
    services = workbook["Services"]
    header = [cell.value for cell in services[1]]
    (row,) = [
        row
        for row in services.iter_rows(min_row=3)
        if row[header.index("id")].value.endswith(f"-{convention.id}-site-{site.id}")
    ]
    assert row[header.index("modes_accueil")].value == "en-presentiel"
    structures = workbook["Structures"]
    header = [cell.value for cell in structures[1]]
    cells = [row[header.index("nom")] for row in structures.iter_rows(min_row=3)]
    named = [cell for cell in cells if cell.value == "=1+1 Tremplin"]
    assert named and named[0].data_type == "s"


def test_an_action_without_zone_is_offered_in_the_departement(client, session, running_today, export_settings):
    site, convention = running_today
    action = session.get(Action, convention.action_id)
    action.zone_eligibilite = None
    session.add(action)
    session.flush()
    export_settings(departement_code="44", source="cd44")
    workbook = load_workbook(io.BytesIO(client.get(URL).content))
    services = valideur_rows(workbook["Services"])
    (ours,) = [row for row in services if row["id"] == f"cd44--convention-{convention.id}-site-{site.id}"]
    assert ours["zone_eligibilite"] == ["44"]
