"""GET /availability: which conventions are listed, with what, in which order, filtered how."""

from datetime import UTC, date, datetime, timedelta

import pytest

from app.catalogue.models import Action
from app.conventions.models import ConventionYear
from tests import factories

DAY = date(2019, 6, 15)


def listed_ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["convention_id"] for item in response.json()["items"]]


def code_of(session, convention) -> str:
    return session.get(Action, convention.action_id).code


def test_only_conventions_active_on_the_day_are_listed(session, get_availability):
    action = factories.action(session)
    listed = [
        factories.convention(session, action_id=action.id),
        factories.convention(session, action_id=action.id, start_on=DAY, end_on=date(2019, 12, 31)),
        factories.convention(session, action_id=action.id, start_on=date(2019, 1, 1), end_on=DAY),
    ]
    for not_listed in (
        {"status": "ended"},
        {"status": "draft"},
        {"status": "cancelled"},
        {"start_on": date(2018, 1, 1), "end_on": DAY - timedelta(days=1)},
        {"start_on": DAY + timedelta(days=1), "end_on": date(2020, 12, 31)},
    ):
        factories.convention(session, action_id=action.id, **not_listed)

    response = get_availability(on=DAY.isoformat(), action=action.code)

    assert sorted(listed_ids(response)) == sorted(c.id for c in listed)
    assert response.json()["total"] == len(listed)
    assert response.json()["on"] == DAY.isoformat()


def test_item_names_action_operator_and_sites(session, availability_of):
    operator = factories.operator(session, name="Association Tremplin")
    urban = factories.site(
        session,
        operator_id=operator.id,
        name="Accueil Centre",
        commune="Le Mans",
        insee_code="72181",
        postcode="72000",
        territory="urban",
        latitude=48.0061,
        longitude=0.1996,
    )
    rural = factories.site(
        session, operator_id=operator.id, name="Antenne", commune="Sillé-le-Guillaume", territory="rural"
    )
    unrelated = factories.site(session, operator_id=operator.id, name="Autre")
    convention = factories.convention(session, operator_id=operator.id, site_ids=[urban.id, rural.id])

    item = availability_of(convention)

    assert item["action"] == code_of(session, convention)
    assert item["operator_id"] == operator.id
    assert item["operator_name"] == "Association Tremplin"
    assert item["sites"] == [
        {
            "id": urban.id,
            "name": "Accueil Centre",
            "commune": "Le Mans",
            "insee_code": "72181",
            "postcode": "72000",
            "territory": "urban",
            "latitude": 48.0061,
            "longitude": 0.1996,
        },
        {
            "id": rural.id,
            "name": "Antenne",
            "commune": "Sillé-le-Guillaume",
            "insee_code": None,
            "postcode": None,
            "territory": "rural",
            "latitude": None,
            "longitude": None,
        },
    ]
    assert unrelated.id not in [site["id"] for site in item["sites"]]


def test_list_is_ordered_by_action_number_then_operator_name_then_id(session, get_availability):
    family = factories.family(session)
    first_action = factories.action(session, family_id=family.id)
    second_action = factories.action(session, family_id=family.id)
    assert first_action.number < second_action.number
    zeta = factories.operator(session, name="Zeta insertion")
    alpha = factories.operator(session, name="Alpha insertion")
    created = [
        factories.convention(session, action_id=second_action.id, operator_id=alpha.id),
        factories.convention(session, action_id=first_action.id, operator_id=zeta.id),
        factories.convention(session, action_id=first_action.id, operator_id=alpha.id),
        factories.convention(session, action_id=first_action.id, operator_id=alpha.id),
    ]

    response = get_availability(on=DAY.isoformat(), family=family.code)

    by_id = {c.id: c for c in created}
    expected = sorted(
        created,
        key=lambda c: (session.get(Action, c.action_id).number, "Alpha" if c.operator_id == alpha.id else "Zeta", c.id),
    )
    assert listed_ids(response) == [c.id for c in expected]
    assert [by_id[i].operator_id for i in listed_ids(response)] == [alpha.id, alpha.id, zeta.id, alpha.id]


def test_pages_split_the_ordered_list(session, get_availability):
    action = factories.action(session)
    created = [factories.convention(session, action_id=action.id) for _ in range(5)]
    query = {"on": DAY.isoformat(), "action": action.code}

    everything = listed_ids(get_availability(**query))
    second_page = get_availability(**query, page=2, size=2)

    assert sorted(everything) == sorted(c.id for c in created)
    assert listed_ids(second_page) == everything[2:4]
    assert (second_page.json()["total"], second_page.json()["page"], second_page.json()["size"]) == (5, 2, 2)


def test_filter_by_action(session, get_availability):
    family = factories.family(session)
    action, other_action = (
        factories.action(session, family_id=family.id),
        factories.action(session, family_id=family.id),
    )
    mine = factories.convention(session, action_id=action.id)
    factories.convention(session, action_id=other_action.id)

    assert listed_ids(get_availability(on=DAY.isoformat(), action=action.code)) == [mine.id]
    assert listed_ids(get_availability(on=DAY.isoformat(), action="no-such-action")) == []


def test_filter_by_family(session, get_availability):
    family = factories.family(session)
    in_family = [
        factories.convention(session, action_id=factories.action(session, family_id=family.id).id),
        factories.convention(session, action_id=factories.action(session, family_id=family.id).id),
    ]
    outside = factories.convention(session)

    ids = listed_ids(get_availability(on=DAY.isoformat(), family=family.code))

    assert sorted(ids) == sorted(c.id for c in in_family)
    assert outside.id not in ids


def test_filter_by_commune_of_any_site_ignores_case_and_accents(session, get_availability):
    commune = factories.unique("Évron-Test")
    here = factories.site(session, commune=commune)
    elsewhere = factories.site(session, commune=factories.unique("Mayenne-Test"))
    single_site = factories.convention(session, site_ids=[here.id])
    two_sites = factories.convention(session, site_ids=[elsewhere.id, here.id])
    factories.convention(session, site_ids=[elsewhere.id])
    factories.convention(session)  # no site at all

    unaccented = commune.replace("É", "E")
    spellings = (commune, commune.lower(), commune.upper(), f"  {commune.lower()} ", unaccented, unaccented.lower())
    for spelling in spellings:
        ids = listed_ids(get_availability(on=DAY.isoformat(), commune=spelling))
        assert sorted(ids) == sorted([single_site.id, two_sites.id]), spelling
    assert listed_ids(get_availability(on=DAY.isoformat(), commune=factories.unique("Nowhere"))) == []


def test_filter_by_territory_of_any_site(session, get_availability):
    action = factories.action(session)
    urban = factories.site(session, territory="urban")
    rural = factories.site(session, territory="rural")
    urban_only = factories.convention(session, action_id=action.id, site_ids=[urban.id])
    rural_only = factories.convention(session, action_id=action.id, site_ids=[rural.id])
    both = factories.convention(session, action_id=action.id, site_ids=[urban.id, rural.id])
    factories.convention(session, action_id=action.id)  # no site: in neither

    def ids_for(territory):
        return sorted(listed_ids(get_availability(on=DAY.isoformat(), action=action.code, territory=territory)))

    assert ids_for("urban") == sorted([urban_only.id, both.id])
    assert ids_for("rural") == sorted([rural_only.id, both.id])


def test_filters_combine(session, get_availability):
    family = factories.family(session)
    action = factories.action(session, family_id=family.id)
    commune = factories.unique("Commune")
    rural_here = factories.site(session, commune=commune, territory="rural")
    urban_here = factories.site(session, commune=commune, territory="urban")
    wanted = factories.convention(session, action_id=action.id, site_ids=[rural_here.id])
    factories.convention(session, action_id=action.id, site_ids=[urban_here.id])
    factories.convention(session, site_ids=[rural_here.id])  # another action and family

    response = get_availability(
        on=DAY.isoformat(), family=family.code, action=action.code, commune=commune, territory="rural"
    )

    assert listed_ids(response) == [wanted.id]


MOMENTS = {
    "convention": datetime(2024, 1, 1, tzinfo=UTC),
    "year": datetime(2024, 1, 2, tzinfo=UTC),
    "pathway": datetime(2024, 1, 3, tzinfo=UTC),
    "operator": datetime(2024, 1, 4, tzinfo=UTC),
    "site": datetime(2024, 1, 5, tzinfo=UTC),
}


@pytest.mark.parametrize("latest", list(MOMENTS))
def test_updated_at_is_the_latest_change_of_what_the_item_shows(session, availability_of, latest):
    def moment(part):
        return datetime(2025, 3, 1, 12, 30, tzinfo=UTC) if part == latest else MOMENTS[part]

    operator = factories.operator(session, updated_at=moment("operator"))
    site = factories.site(session, operator_id=operator.id, updated_at=moment("site"))
    convention = factories.convention(
        session, operator_id=operator.id, site_ids=[site.id], updated_at=moment("convention")
    )
    session.add(ConventionYear(convention_id=convention.id, year=2019, places=3, updated_at=moment("year")))
    factories.pathway(session, convention_id=convention.id, entered_on=date(2019, 5, 1), updated_at=moment("pathway"))
    # Another year's line and another convention's pathway say nothing about this item.
    session.add(
        ConventionYear(convention_id=convention.id, year=2020, places=3, updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    )
    other = factories.convention(session, action_id=convention.action_id, operator_id=operator.id)
    factories.pathway(session, convention_id=other.id, updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    session.flush()

    item = availability_of(convention)

    assert datetime.fromisoformat(item["updated_at"].replace("Z", "+00:00")) == datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
