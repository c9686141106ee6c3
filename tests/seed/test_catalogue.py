"""The seed catalogue against the bilan (shared/seeds/bilan-pdi-2019-2021.md).

The expected figures below are transcribed from the document itself, not read from the seed's
TOML files, so that a slip in either shows. conftest loaded the catalogue once at session start.
"""

import copy
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.catalogue.models import Action, Family, Operator, Site
from app.conventions.models import Convention, ConventionSite, ConventionYear
from app.core.db import PdiSession
from app.core.errors import PeriodConsolidated
from app.periods.models import Period, PeriodStatus
from seed.data import SeedDataError, check_seed_data, read_seed_data, split_evenly
from seed.loader import load_catalogue
from tests.factories import row_counts

SEED = Convention.reference.startswith("PDI-")

# (places, budget, FSE) per action number and year, as the document's tables print them;
# None where the document says "NC" or has no such row.
DOCUMENT_FIGURES = {
    1: {2018: (None, 450_000, None), 2019: (None, 450_000, None)},
    2: {2018: (230, 69_000, None), 2019: (200, 60_000, None), 2020: (200, 60_000, None)},
    3: {2018: (660, 396_000, None), 2019: (1120, 672_000, None), 2020: (1120, 672_000, None)},
    4: {2019: (501, 300_000, None), 2020: (675, 339_000, None)},
    5: {2018: (400, 180_000, 90_000), 2019: (400, 180_000, 90_000), 2020: (400, 180_000, 90_000)},
    6: {2018: (200, None, None), 2019: (200, 92_694, 46_347), 2020: (200, 82_248, 41_124)},
    7: {2018: (15, 65_700, None), 2019: (15, 65_700, None), 2020: (15, 65_700, None)},
    8: {
        2018: (319, 1_978_407, 129_483),
        2019: (319, 1_992_483, 143_559),
        2020: (319, 1_992_188, 143_264),
    },
    9: {2018: (101, 69_900, None), 2019: (100, 70_000, None), 2020: (100, 70_000, None)},
    10: {2018: (607, 628_000, 300_000), 2019: (640, 750_000, 300_000), 2020: (593, 750_000, 300_000)},
    11: {2018: (144, 72_000, None), 2019: (144, 72_000, None), 2020: (144, 72_000, None)},
}

# Operators under each action, in the document's order (one spelling per organisation).
DOCUMENT_OPERATORS = {
    1: ["CCAS du Mans", "CCAS d'Allonnes", "CCAS de Montval-sur-Loir", "CCAS de La Flèche"],
    2: ["Le Relais"],
    3: ["Essaimage", "Argos", "Etic'Asso", "Inalta Formation-Agafi", "Le Relais"],
    4: [
        "ADGESTI",
        "Argos",
        "ENTRAIDE FAMILIALE – Familles rurales",
        "Inalta Formation-Agafi",
        "SAMPS",
        "SAJ",
        "Tarmac",
    ],
    5: ["CARBUR'PERA"],
    6: ["Argos"],
    7: ["Association Montjoie", "AGLA Nelson Mandela"],
    8: [
        "AFIC",
        "AISP",
        "Ateliers Brières et Gesnois",
        "ATRE",
        "CS Marie Louise Souty",
        "CFI",
        "Echotri",
        "EPIC Arnage",
        "Essaimage",
        "Estim",
        "Etudes & Chantiers",
        "Inservet",
        "ITER",
        "Croix Rouge Française",
        "Etic'Asso",
        "Grenier de l'Huisne",
        "Pain contre la faim",
        "Tarmac",
    ],
    9: [
        "AISP Services",
        "ATRE CHANTIERS",
        "Partage Le Mans",
        "Partage Sablé",
        "SOS Coup de main",
        "SOS Travail",
        "TARMAC EMPLOI",
    ],
    10: [
        "ASCAPE",
        "Argos",
        "EGEE",
        "CULTURES DU CŒUR",
        "FACE LE MANS METROPOLE",
        "GEIG 3M",
        "GEIQ BTP",
        "La Cravate Solidaire",
        "Le Relais",
        "Let's Co up",
    ],
    11: ["Le Relais", "ADIE"],
}

DOCUMENT_ACTIONS = {
    1: ("public-seul-sans-enfant", "referencement", ["persons_present", "budget"]),
    2: (
        "public-travailleur-non-salarie",
        "referencement",
        ["places_funded", "budget", "persons_present", "occupancy_rate", "exits"],
    ),
    3: (
        "depart-parcours",
        "evaluation",
        ["places_funded", "budget", "persons_present", "occupancy_rate", "completion_rate"],
    ),
    4: (
        "depart-projet",
        "levee-des-freins",
        [
            "places_funded",
            "budget",
            "persons_present",
            "occupancy_rate",
            "dynamic_exit_rate",
            "durable_employment_rate",
        ],
    ),
    5: (
        "depart-mobilite",
        "levee-des-freins",
        [
            "places_funded",
            "budget",
            "budget_fse",
            "persons_present",
            "occupancy_rate",
            "vehicle_rental_days",
            "licence_registrations",
            "licences_obtained",
        ],
    ),
    6: (
        "depart-numerique",
        "levee-des-freins",
        ["places_funded", "budget", "budget_fse", "persons_present", "occupancy_rate"],
    ),
    7: ("logement", "levee-des-freins", ["places_funded", "budget", "persons_present", "occupancy_rate"]),
    8: (
        "aci",
        "retour-emploi",
        ["places_funded", "budget", "budget_fse", "occupancy_rate", "dynamic_exit_rate", "durable_employment_rate"],
    ),
    9: (
        "ai-etti",
        "retour-emploi",
        ["places_funded", "budget", "hours_threshold_reached", "dynamic_exit_rate", "durable_employment_rate"],
    ),
    10: (
        "depart-emploi",
        "retour-emploi",
        [
            "places_funded",
            "budget",
            "budget_fse",
            "persons_present",
            "occupancy_rate",
            "dynamic_exit_rate",
            "durable_employment_rate",
        ],
    ),
    11: (
        "depart-crea",
        "retour-emploi",
        ["places_funded", "budget", "persons_present", "occupancy_rate", "dynamic_exit_rate", "business_creation_rate"],
    ),
}

# Duration the document states (in months), where it states one.
DOCUMENT_DURATIONS = {3: (1, 1), 4: (6, 18), 6: (1, 1), 8: (4, 36), 9: (12, 24)}


def _seed_lines(session: Session):
    """(action number, operator name, convention, its yearly line) for every seed convention year."""
    return session.exec(
        select(Action.number, Operator.name, Convention, ConventionYear)
        .join(Convention, Convention.id == ConventionYear.convention_id)
        .join(Action, Action.id == Convention.action_id)
        .join(Operator, Operator.id == Convention.operator_id)
        .where(SEED)
        .order_by(Action.number, Convention.id, ConventionYear.year)
    ).all()


def _total(total, known: int, lines: int):
    """A document figure from the sum over conventions: null when every line is, never half-known."""
    if known == 0:
        return None
    assert known == lines, "some conventions of this action and year have the figure, others not"
    return Decimal(str(total))


def test_every_action_year_adds_up_to_the_document(session):
    rows = session.exec(
        select(
            Action.number,
            ConventionYear.year,
            func.count(),
            func.sum(ConventionYear.places),
            func.count(ConventionYear.places),
            func.sum(ConventionYear.budget),
            func.count(ConventionYear.budget),
            func.sum(ConventionYear.fse_amount),
            func.count(ConventionYear.fse_amount),
        )
        .join(Convention, Convention.id == ConventionYear.convention_id)
        .join(Action, Action.id == Convention.action_id)
        .where(SEED)
        .group_by(Action.number, ConventionYear.year)
    ).all()
    stored = {
        (number, year): (
            _total(places, places_known, lines),
            _total(budget, budget_known, lines),
            _total(fse, fse_known, lines),
        )
        for number, year, lines, places, places_known, budget, budget_known, fse, fse_known in rows
    }
    expected = {
        (number, year): tuple(None if value is None else Decimal(value) for value in figures)
        for number, years in DOCUMENT_FIGURES.items()
        for year, figures in years.items()
    }
    assert stored == expected


def test_budget_kind_follows_the_document(session):
    # "Budget prévisionnel" for actions 1, 2 and 7, "Budget conventionné" for the others.
    kinds = {(number, line.budget_kind) for number, _name, _convention, line in _seed_lines(session)}
    assert kinds == {(number, "forecast" if number in (1, 2, 7) else "agreed") for number in DOCUMENT_FIGURES}


def test_eleven_actions_numbered_as_in_the_document(session):
    rows = session.exec(
        select(Action.number, Action.code, Family.code, Action.indicators)
        .join(Family, Family.id == Action.family_id)
        .where(Action.code.in_([code for code, _family, _indicators in DOCUMENT_ACTIONS.values()]))
        .order_by(Action.number)
    ).all()
    assert {number: (code, family, list(indicators)) for number, code, family, indicators in rows} == DOCUMENT_ACTIONS


def test_actions_durations_and_formats(session):
    actions = {action.number: action for action in session.exec(select(Action).where(Action.number.between(1, 11)))}
    for number, action in actions.items():
        assert (action.min_duration_months, action.max_duration_months) == DOCUMENT_DURATIONS.get(number, (None, None))
        assert action.description and action.target_public
    assert actions[6].format == "collective"  # "Action collective d'une durée d'un mois"
    assert actions[3].name == "Depart'Parcours"
    assert actions[8].name == "Ateliers et chantiers d'insertion (ACI)"
    assert "préalables" in actions[4].description and "préables" not in actions[4].description


def test_four_families(session):
    rows = session.exec(
        select(Family.code, Family.name, Family.position)
        .where(Family.code.in_(["referencement", "evaluation", "levee-des-freins", "retour-emploi"]))
        .order_by(Family.position)
    ).all()
    assert [tuple(row) for row in rows] == [
        ("referencement", "Le référencement des publics", 1),
        ("evaluation", "L'évaluation", 2),
        ("levee-des-freins", "La levée des freins", 3),
        ("retour-emploi", "Le retour à l'emploi", 4),
    ]


def test_operators_of_each_action_in_the_documents_order(session):
    names: dict[int, list[str]] = {}
    for number, name in session.exec(
        select(Action.number, Operator.name)
        .join(Convention, Convention.action_id == Action.id)
        .join(Operator, Operator.id == Convention.operator_id)
        .where(SEED)
        .order_by(Action.number, Convention.id)
    ):
        names.setdefault(number, []).append(name)
    assert names == DOCUMENT_OPERATORS
    assert {number: len(listed) for number, listed in names.items()} == {
        1: 4,
        2: 1,
        3: 5,
        4: 7,
        5: 1,
        6: 1,
        7: 2,
        8: 18,
        9: 7,
        10: 10,
        11: 2,
    }


def test_an_organisation_named_under_several_actions_is_one_operator(session):
    seed_operators = select(Convention.operator_id).where(SEED)
    distinct = session.exec(select(func.count(func.distinct(Convention.operator_id))).where(SEED)).one()
    assert distinct == len({name for listed in DOCUMENT_OPERATORS.values() for name in listed}) == 48
    for name, actions in {
        "Argos": [3, 4, 6, 10],
        "Le Relais": [2, 3, 10, 11],
        "Tarmac": [4, 8],
        "TARMAC EMPLOI": [9],
        "Etic'Asso": [3, 8],
        "Essaimage": [3, 8],
    }.items():
        operators = session.exec(
            select(Operator.id).where(Operator.name == name, Operator.id.in_(seed_operators))
        ).all()
        assert len(operators) == 1, name
        numbers = session.exec(
            select(Action.number)
            .join(Convention, Convention.action_id == Action.id)
            .where(Convention.operator_id == operators[0])
            .order_by(Action.number)
        ).all()
        assert list(numbers) == actions, name


def test_legal_forms_where_the_document_states_them(session):
    seed_operators = select(Convention.operator_id).where(SEED)
    forms = dict(session.exec(select(Operator.name, Operator.legal_form).where(Operator.id.in_(seed_operators))).all())
    for name in DOCUMENT_OPERATORS[1]:
        assert forms[name] == "Centre communal d'action sociale"
    for name in DOCUMENT_OPERATORS[9][:6]:
        assert forms[name] == "Association intermédiaire"
    assert forms["TARMAC EMPLOI"] == "Entreprise de travail temporaire d'insertion"
    with_siret = session.exec(
        select(func.count()).select_from(Operator).where(Operator.id.in_(seed_operators), Operator.siret.is_not(None))
    ).one()
    assert with_siret == 0  # no SIRET is invented


def test_one_site_per_operator_serving_its_conventions(session):
    seed_operator_ids = session.exec(select(Convention.operator_id).where(SEED).distinct()).all()
    sites = session.exec(select(Site).where(Site.operator_id.in_(seed_operator_ids))).all()
    assert sorted(site.operator_id for site in sites) == sorted(seed_operator_ids)
    site_of = {site.operator_id: site.id for site in sites}
    links = session.exec(
        select(Convention.operator_id, ConventionSite.site_id)
        .join(ConventionSite, ConventionSite.convention_id == Convention.id)
        .where(SEED)
    ).all()
    assert len(links) == sum(len(listed) for listed in DOCUMENT_OPERATORS.values())
    assert all(site_of[operator_id] == site_id for operator_id, site_id in links)
    assert {site.territory for site in sites} == {"urban", "rural"}
    for site in sites:
        assert site.insee_code.startswith("72") and site.postcode.startswith("72")  # the Sarthe


def test_ccas_sites_are_in_their_communes(session):
    rows = session.exec(
        select(Operator.name, Site.commune, Site.insee_code, Site.postcode, Site.territory)
        .join(Site, Site.operator_id == Operator.id)
        .where(Operator.name.startswith("CCAS "))
        .order_by(Operator.name)
    ).all()
    assert {row[0]: tuple(row[1:]) for row in rows} == {
        "CCAS du Mans": ("Le Mans", "72181", "72000", "urban"),
        "CCAS d'Allonnes": ("Allonnes", "72003", "72700", "urban"),
        "CCAS de Montval-sur-Loir": ("Montval-sur-Loir", "72071", "72500", "rural"),
        "CCAS de La Flèche": ("La Flèche", "72154", "72200", "rural"),
    }


# The Sarthe lies within about 47.57–48.49 N and 0.45 W–0.92 E.
SARTHE_LATITUDES, SARTHE_LONGITUDES = (47.5, 48.5), (-0.5, 1.0)


def test_every_seed_site_has_its_communes_centre(session):
    seed_operator_ids = session.exec(select(Convention.operator_id).where(SEED).distinct()).all()
    sites = session.exec(select(Site).where(Site.operator_id.in_(seed_operator_ids))).all()
    centres: dict[str, set] = {}
    for site in sites:
        assert SARTHE_LATITUDES[0] < site.latitude < SARTHE_LATITUDES[1], site.name
        assert SARTHE_LONGITUDES[0] < site.longitude < SARTHE_LONGITUDES[1], site.name
        centres.setdefault(site.insee_code, set()).add((site.latitude, site.longitude))
    assert all(len(points) == 1 for points in centres.values())  # one centre per commune
    assert len({next(iter(points)) for points in centres.values()}) == len(centres)  # a centre each


def test_every_action_says_what_data_inclusion_needs(session):
    actions = {action.number: action for action in session.exec(select(Action).where(Action.number <= 11))}
    for action in actions.values():
        assert action.thematiques and action.publics and action.type, action.code
        assert "beneficiaires-des-minimas-sociaux" in action.publics  # the PDI is for people on RSA
        assert action.frais == "gratuit"
        assert action.modes_accueil == ["en-presentiel"]
        assert action.modes_mobilisation == ["utiliser-lien-mobilisation"]
        assert action.mobilisable_par == ["professionnels"]
        assert action.zone_eligibilite == ["72"]  # the Sarthe
    assert "actifs" in actions[2].publics  # self-employed people
    assert actions[6].type == "atelier"  # "Action collective"
    assert set(actions[5].thematiques) >= {"mobilite--acceder-a-un-vehicule", "mobilite--preparer-un-permis"}


def test_conventions_dates_status_and_references(session):
    lines = _seed_lines(session)
    for number, _name, convention, _line in lines:
        expected_dates = {1: (date(2018, 1, 1), date(2022, 12, 31)), 4: (date(2019, 1, 1), date(2020, 12, 31))}
        assert (convention.start_on, convention.end_on) == expected_dates.get(
            number, (date(2018, 1, 1), date(2020, 12, 31))
        )
        assert convention.status == "active"
        assert convention.reference.startswith(f"PDI-{number}-")
    years = {}
    for number, _name, convention, line in lines:
        years.setdefault((number, convention.id), []).append(line.year)
    for (number, _convention_id), listed in years.items():
        assert listed == sorted(DOCUMENT_FIGURES[number]), number


def test_every_convention_year_meets_its_conventions_dates(session):
    lines = _seed_lines(session)
    assert lines
    for _number, _name, convention, line in lines:
        assert convention.start_on.year <= line.year <= convention.end_on.year


def test_fse_never_exceeds_the_budget(session):
    lines = _seed_lines(session)
    with_fse = [line for _number, _name, _convention, line in lines if line.fse_amount is not None]
    assert with_fse  # actions 5, 6, 8 and 10 have an FSE share
    for line in with_fse:
        assert line.budget is not None and line.fse_amount <= line.budget


def test_totals_are_split_evenly_in_the_documents_order(session):
    # Depart'Projet 2019: 501 places over 7 operators; the first four take the remainder.
    shares = [
        (name, line.places, line.budget)
        for number, name, _convention, line in _seed_lines(session)
        if number == 4 and line.year == 2019
    ]
    assert [name for name, _places, _budget in shares] == DOCUMENT_OPERATORS[4]
    assert [places for _name, places, _budget in shares] == [72, 72, 72, 72, 71, 71, 71]
    # 300 000 € over 7: 42 857 € each, the 1 € left goes to the first.
    assert [budget for _name, _places, budget in shares] == [Decimal(42_858)] + [Decimal(42_857)] * 6


def test_months_per_place(session):
    for number, _name, _convention, line in _seed_lines(session):
        assert 1 <= line.months_per_place <= 12
        if number in (3, 6):  # Depart'Parcours and Depart'Numérique: one-month pathways
            assert line.months_per_place == 1
        if number in (8, 9):  # a seat in an ACI or an AI is open all year
            assert line.months_per_place == 12


def test_hours_threshold_150_for_an_ai_and_300_for_the_etti(session):
    for number, name, _convention, line in _seed_lines(session):
        expected = (300 if name == "TARMAC EMPLOI" else 150) if number == 9 else None
        assert line.hours_threshold == expected, (number, name)


def test_the_loader_recorded_its_writes_in_the_audit_log(session):
    seed_ids = [str(convention_id) for convention_id in session.exec(select(Convention.id).where(SEED))]
    audited = session.exec(
        select(func.count(func.distinct(AuditEvent.entity_id))).where(
            AuditEvent.entity == "convention", AuditEvent.actor == "cli", AuditEvent.entity_id.in_(seed_ids)
        )
    ).one()
    assert audited == len(seed_ids) == 58


TABLES = (Family, Action, Operator, Site, Convention, ConventionSite, ConventionYear, AuditEvent)


def _row_counts(session: Session) -> dict[str, int]:
    return row_counts(session, *TABLES)


def test_loading_twice_changes_nothing(session):
    before = _row_counts(session)
    summary = load_catalogue(session=session)
    assert _row_counts(session) == before
    assert summary.startswith("seed: 4 families, 11 actions, 48 operators, 48 sites, 58 conventions")
    assert "(created 0, updated 0, unchanged " in summary


def test_loading_again_restores_the_data_files_values(session):
    line = session.exec(
        select(ConventionYear).join(Convention).where(Convention.reference == "PDI-8-afic", ConventionYear.year == 2019)
    ).one()
    expected = (line.budget, line.fse_amount)
    line.budget, line.fse_amount = Decimal(1), None  # fse_amount ≤ budget holds in the database too
    action = session.exec(select(Action).where(Action.code == "depart-parcours")).one()
    action.name = "Renamed by an admin"
    session.add_all([line, action])
    session.flush()
    before = _row_counts(session)

    summary = load_catalogue(session=session)

    assert "updated 2" in summary  # the action and the yearly line; the convention itself is unchanged
    session.refresh(line)
    session.refresh(action)
    assert (line.budget, line.fse_amount) == expected
    assert action.name == "Depart'Parcours"
    after = _row_counts(session)
    assert after["AuditEvent"] == before["AuditEvent"] + 2
    assert {table: count for table, count in after.items() if table != "AuditEvent"} == {
        table: count for table, count in before.items() if table != "AuditEvent"
    }
    event = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == "convention", AuditEvent.entity_id == str(line.convention_id))
        .order_by(AuditEvent.id.desc())
    ).first()
    # Written as PUT /conventions/{id}/years/2019 writes it, so audited as that route audits it.
    assert (event.actor, event.action, event.fields) == ("cli", "put_year", ["years.2019"])


def _consolidate(session: Session, year: int) -> None:
    period = session.get(Period, year) or Period(year=year)
    period.status = PeriodStatus.consolidated
    session.add(period)
    session.flush()


def test_a_consolidated_year_is_not_rewritten(session):
    _consolidate(session, 2019)
    assert "updated 0" in load_catalogue(session=session)  # nothing to change: no refusal

    line = session.exec(
        select(ConventionYear)
        .join(Convention)
        .where(Convention.reference == "PDI-3-argos", ConventionYear.year == 2019)
    ).one()
    line.places = 1
    session.add(line)
    session.flush()
    with pytest.raises(PeriodConsolidated):
        load_catalogue(session=session)


@pytest.mark.parametrize(
    ("total", "parts", "shares"),
    [(501, 7, [72, 72, 72, 72, 71, 71, 71]), (15, 2, [8, 7]), (450_000, 4, [112_500] * 4), (3, 5, [1, 1, 1, 0, 0])],
)
def test_split_evenly(total, parts, shares):
    assert split_evenly(total, parts) == shares


def test_split_evenly_keeps_each_fse_share_within_its_budget():
    for budget, fse, parts in [(1_978_407, 129_483, 18), (92_694, 46_347, 1), (100, 100, 7), (10, 9, 4)]:
        assert all(f <= b for f, b in zip(split_evenly(fse, parts), split_evenly(budget, parts), strict=True))


def _broken(change) -> dict:
    data = copy.deepcopy(read_seed_data())
    change(data)
    return data


@pytest.mark.parametrize(
    "change",
    [
        lambda data: data["actions"][0]["indicators"].append("no_such_indicator"),
        lambda data: data["actions"][2]["conventions"]["operators"].append("unknown-operator"),
        lambda data: data["actions"][2]["conventions"]["years"][0].update(budget=396_000.5),
        lambda data: data["sites"].pop(),
        lambda data: data["actions"][5]["thematiques"].append("numerique"),
        lambda data: data["actions"][0].update(publics=["tous-publics", "femmes"]),
        lambda data: data["communes"]["Mamers"].pop("longitude"),
        lambda data: data["communes"]["Mamers"].update(latitude=148.35),
    ],
    ids=[
        "indicator",
        "operator",
        "not-whole-euros",
        "operator-without-site",
        "thematique",
        "tous-publics-with-others",
        "commune-without-longitude",
        "latitude-out-of-range",
    ],
)
def test_inconsistent_data_files_are_refused(change):
    check_seed_data(read_seed_data())  # the shipped files pass
    with pytest.raises(SeedDataError):
        check_seed_data(_broken(change))


def test_pdi_seed_on_a_seeded_database_writes_nothing(engine):
    from typer.testing import CliRunner

    from app.cli import cli

    with PdiSession(engine) as session:
        before = _row_counts(session)
    result = CliRunner().invoke(cli, ["seed"])
    assert result.exit_code == 0, result.output
    assert "seed: 4 families, 11 actions, 48 operators, 48 sites, 58 conventions" in result.output
    assert "(created 0, updated 0, unchanged " in result.output
    with PdiSession(engine) as session:
        assert _row_counts(session) == before
