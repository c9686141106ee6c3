"""GET /exports/data-inclusion/structures and /services: what each item says, which are listed,
their seats (the same as GET /availability's) and the location filters."""

from datetime import date, datetime, timedelta

import pytest

from app.core import time as clock
from tests import factories
from tests.availability.conftest import AJACCIO, ALLONNES, COULAINES, LA_FLECHE, LE_MANS
from tests.catalogue.helpers import assert_problem
from tests.exports.conftest import API, PORTAL_URL

DAY = date(2019, 6, 15)
DATA_INCLUSION = {
    "thematiques": ["numerique--maitriser-les-fondamentaux-du-numerique"],
    "type": "atelier",
    "publics": ["beneficiaires-des-minimas-sociaux"],
    "frais": "gratuit",
    "modes_accueil": ["en-presentiel"],
    "modes_mobilisation": ["utiliser-lien-mobilisation"],
    "mobilisable_par": ["professionnels"],
    "zone_eligibilite": ["72"],
    # SPEC C11.
    "volume_horaire_hebdomadaire": 4.5,
    "nombre_semaines": 4,
}


@pytest.fixture
def action(session):
    return factories.action(
        session,
        name="Atelier numérique",
        description="Un mois pour se servir d'un ordinateur et d'Internet au quotidien.",
        target_public="Bénéficiaires du RSA",
        **{
            name: value
            for name, value in DATA_INCLUSION.items()
            if name not in ("volume_horaire_hebdomadaire", "nombre_semaines")
        },
        weekly_hours=DATA_INCLUSION["volume_horaire_hebdomadaire"],
        duration_weeks=DATA_INCLUSION["nombre_semaines"],
    )


def services(client, **query) -> list[dict]:
    """The services listed on DAY (the seed's too: each test looks at its own rows only)."""
    response = client.get(f"{API}/services", params={"on": DAY.isoformat(), "size": 500, **query})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def service_items_of(client, convention, **query) -> list[dict]:
    prefix = f"-convention-{convention.id}-"
    return [item for item in services(client, **query) if prefix in item["id"]]


def test_a_service_says_what_where_and_how_many_seats(client, session, action, export_settings):
    export_settings(portal_url=PORTAL_URL)
    operator = factories.operator(session, name="Association Clic", phone="02 43 00 00 00", email="clic@asso72.fr")
    site = factories.site(
        session,
        operator_id=operator.id,
        name="Clic – Coulaines",
        address="1 rue de la Paix",
        postcode="72190",
        **COULAINES,
    )
    convention = factories.convention(
        session, action_id=action.id, operator_id=operator.id, site_ids=[site.id], years={2019: {"places": 6}}
    )
    factories.pathway(session, convention_id=convention.id, entered_on=DAY - timedelta(days=10))
    factories.pathway(session, convention_id=convention.id, prescribed_on=DAY - timedelta(days=2))
    session.commit()

    [item] = service_items_of(client, convention)

    assert item == {
        "source": "cd72",
        "id": f"cd72--convention-{convention.id}-site-{site.id}",
        "structure_id": f"cd72--site-{site.id}",
        "nom": "Atelier numérique",
        "description": "Un mois pour se servir d'un ordinateur et d'Internet au quotidien.",
        "date_maj": item["date_maj"],
        **DATA_INCLUSION,
        "publics_precisions": "Bénéficiaires du RSA",
        "commune": "Coulaines",
        "code_postal": "72190",
        "code_insee": "72095",
        "adresse": "1 rue de la Paix",
        "latitude": 48.026,
        "longitude": 0.205,
        "telephone": "02 43 00 00 00",
        "courriel": "clic@asso72.fr",
        "lien_mobilisation": PORTAL_URL,
        "places": item["places"],
        "distance_km": None,
    }
    assert date.fromisoformat(item["date_maj"]) <= clock.today()
    availability = client.get("/api/v1/availability", params={"on": DAY.isoformat(), "action": action.code}).json()
    [seats] = [entry for entry in availability["items"] if entry["convention_id"] == convention.id]
    assert item["places"] == {
        "capacity": 6,
        "occupied": 1,
        "reserved": 1,
        "waitlisted": 0,
        "available": 4,
        "next_release_on": None,
        "updated_at": seats["updated_at"],
    }
    assert {key: seats[key] for key in ("capacity", "occupied", "reserved", "available")} == {
        key: item["places"][key] for key in ("capacity", "occupied", "reserved", "available")
    }


def test_a_structure_is_an_operator_site(client, session):
    operator = factories.operator(
        session, name="Association Tremplin", siret="73282932000074", website="https://tremplin.example.fr"
    )
    site = factories.site(session, operator_id=operator.id, name="Tremplin – Allonnes", postcode="72700", **ALLONNES)
    session.commit()

    response = client.get(f"{API}/structures", params={"size": 500})
    assert response.status_code == 200
    [item] = [item for item in response.json()["items"] if item["id"] == f"cd72--site-{site.id}"]
    assert item == {
        "source": "cd72",
        "id": f"cd72--site-{site.id}",
        "nom": "Tremplin – Allonnes",
        "date_maj": item["date_maj"],
        "siret": "73282932000074",
        "commune": "Allonnes",
        "code_postal": "72700",
        "code_insee": "72003",
        "adresse": None,
        "latitude": 47.968,
        "longitude": 0.161,
        "telephone": None,
        "courriel": None,
        "site_web": "https://tremplin.example.fr",
    }
    assert datetime.fromisoformat(item["date_maj"]).date() <= clock.today()


def test_source_names_the_producer(client, session, action, export_settings):
    export_settings(source="cd53")
    site = factories.site(session, **COULAINES)
    convention = factories.convention(session, action_id=action.id, operator_id=site.operator_id, site_ids=[site.id])
    session.commit()
    [item] = service_items_of(client, convention)
    assert item["id"] == f"cd53--convention-{convention.id}-site-{site.id}"
    assert (item["source"], item["structure_id"]) == ("cd53", f"cd53--site-{site.id}")


def test_one_service_per_active_convention_and_site(client, session, action):
    operator = factories.operator(session)
    first, second = (factories.site(session, operator_id=operator.id, **place) for place in (COULAINES, ALLONNES))
    two_sites = factories.convention(
        session, action_id=action.id, operator_id=operator.id, site_ids=[first.id, second.id]
    )
    no_site = factories.convention(session, action_id=action.id, operator_id=operator.id)
    inactive = [
        factories.convention(session, action_id=action.id, site_ids=[first.id], status="ended"),
        factories.convention(session, action_id=action.id, site_ids=[first.id], status="draft"),
        factories.convention(session, action_id=action.id, site_ids=[first.id], end_on=DAY - timedelta(days=1)),
        factories.convention(session, action_id=action.id, site_ids=[first.id], start_on=DAY + timedelta(days=1)),
    ]
    session.commit()

    listed = [item["id"] for item in services(client) if item["nom"] == "Atelier numérique"]

    # Ordered as availability (action, operator, convention), then by site name.
    assert listed == [
        f"cd72--convention-{two_sites.id}-site-{site.id}" for site in sorted((first, second), key=lambda s: s.name)
    ]
    assert not any(f"convention-{convention.id}-" in id_ for convention in (no_site, *inactive) for id_ in listed)


def test_on_defaults_to_today_and_takes_iso_dates_only(client):
    response = client.get(f"{API}/services")
    assert response.status_code == 200
    assert response.json()["on"] == clock.today().isoformat()
    assert_problem(client.get(f"{API}/services", params={"on": "1592179200"}), 422, ["query", "on"])
    assert_problem(client.get(f"{API}/services", params={"on": "15/06/2020"}), 422, ["query", "on"])


def test_services_filter_by_place_and_sort_by_distance(client, session, action):
    operator = factories.operator(session)
    sites = {
        name: factories.site(session, operator_id=operator.id, name=name, **place)
        for name, place in {
            "coulaines": COULAINES,
            "allonnes": ALLONNES,
            "la-fleche": LA_FLECHE,
            "ajaccio": AJACCIO,
        }.items()
    }
    convention = factories.convention(
        session, action_id=action.id, operator_id=operator.id, site_ids=[site.id for site in sites.values()]
    )
    session.commit()

    def listed(**query) -> list[tuple[str, float | None]]:
        names = {f"cd72--convention-{convention.id}-site-{site.id}": name for name, site in sites.items()}
        return [(names[item["id"]], item["distance_km"]) for item in services(client, **query) if item["id"] in names]

    assert [name for name, _ in listed(insee_code="72154")] == ["la-fleche"]
    assert [name for name, _ in listed(departement="2A")] == ["ajaccio"]
    assert [name for name, _ in listed(departement="72")] == ["allonnes", "coulaines", "la-fleche"]
    assert listed(near=LE_MANS) == [("coulaines", 2.5), ("allonnes", 4.8)]
    assert listed(near=LE_MANS, radius_km=45) == [("coulaines", 2.5), ("allonnes", 4.8), ("la-fleche", 39.5)]
    assert listed(near=LE_MANS, departement="72", insee_code="72003") == [("allonnes", 4.8)]


def test_services_page_through_the_distance_order(client, session, action):
    # Around Ajaccio, where the seed has no site, so that the whole list is this test's.
    operator = factories.operator(session)
    ids = []
    for north_km in (9, 1, 5):
        site = factories.site(
            session, operator_id=operator.id, latitude=AJACCIO["latitude"] + north_km / 111.2, longitude=8.737
        )
        convention = factories.convention(session, action_id=action.id, operator_id=operator.id, site_ids=[site.id])
        ids.append(f"cd72--convention-{convention.id}-site-{site.id}")
    session.commit()
    query = {"on": DAY.isoformat(), "near": "41.927,8.737", "size": 2}
    pages = [client.get(f"{API}/services", params={**query, "page": page}).json() for page in (1, 2)]
    assert [[item["id"] for item in page["items"]] for page in pages] == [[ids[1], ids[2]], [ids[0]]]
    assert [[item["distance_km"] for item in page["items"]] for page in pages] == [[1.0, 5.0], [9.0]]
    assert {page["total"] for page in pages} == {3}


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ({"near": "somewhere"}, ["query", "near"]),
        ({"near": "48.0,200"}, ["query", "near"]),
        ({"near": LE_MANS, "radius_km": 1000}, ["query", "radius_km"]),
        ({"radius_km": 5}, ["query", "radius_km"]),
        ({"departement": "97"}, ["query", "departement"]),
        ({"insee_code": "72"}, ["query", "insee_code"]),
    ],
)
def test_bad_place_filters_are_422(client, query, loc):
    assert_problem(client.get(f"{API}/services", params=query), 422, loc)


@pytest.mark.parametrize("kind", ["structures", "services"])
def test_public_but_a_bad_key_is_401(client, kind):
    assert client.get(f"{API}/{kind}").status_code == 200
    assert_problem(client.get(f"{API}/{kind}", headers={"Authorization": "Bearer nope"}), 401)
