"""The seed loader writes through the catalogue's, conventions' and assessments' services: a data
file with a value the API refuses is refused with the API's message, and nothing of it is kept."""

import copy

import pytest
from sqlmodel import Session, select

from app.audit.models import AuditEvent
from app.catalogue.models import Action, Family, Operator, Site
from app.conventions.models import Convention, ConventionSite, ConventionYear
from app.core.db import PdiSession
from app.core.errors import InvalidInput
from seed import loader
from seed.data import SeedDataError, read_seed_data
from seed.loader import load_catalogue
from tests.factories import row_counts
from tests.helpers import assert_problem

API = "/api/v1"
TABLES = (Family, Action, Operator, Site, Convention, ConventionSite, ConventionYear, AuditEvent)
BAD_SIRET = "12345678901234"  # 14 digits, but the check key fails


def _data_with(change) -> dict:
    data = copy.deepcopy(read_seed_data())
    data["families"][0]["name"] = "Written first, if anything were"  # a change the load would make first
    change(data)
    return data


def _family_name(session: Session) -> str:
    return session.exec(select(Family.name).where(Family.code == "referencement")).one()


def test_a_bad_siret_is_refused_with_the_apis_message_before_any_write(client, admin, session):
    api = client.post(f"{API}/operators", json={"name": "Opérateur au SIRET faux", "siret": BAD_SIRET}, headers=admin)
    api_message = assert_problem(api, 422, loc=["body", "siret"])["errors"][0]["msg"]
    before = row_counts(session, *TABLES)

    with pytest.raises(SeedDataError) as refused:
        load_catalogue(session=session, data=_data_with(lambda data: data["operators"][3].update(siret=BAD_SIRET)))

    assert f"operator {read_seed_data()['operators'][3]['key']}: siret: {api_message}" in str(refused.value)
    # Refused by the schema before the first write: not even the family renamed above was written.
    assert row_counts(session, *TABLES) == before
    assert _family_name(session) == "Le référencement des publics"


def test_a_siret_the_files_give_is_written(session):
    valid = "73282932000074"
    data = copy.deepcopy(read_seed_data())
    data["operators"][3]["siret"] = valid
    load_catalogue(session=session, data=data)
    name = data["operators"][3]["name"]
    assert session.exec(select(Operator.siret).where(Operator.name == name)).one() == valid


def test_an_unknown_family_is_refused_with_the_services_error(client, admin, session):
    body = {"code": "action-sans-famille", "number": 900, "family": "no-such-family", "name": "Action"}
    api_detail = assert_problem(client.post(f"{API}/actions", json=body, headers=admin), 422)["detail"]

    unknown_family = _data_with(lambda data: data["actions"][2].update(family="no-such-family"))
    with pytest.raises(InvalidInput) as refused:
        load_catalogue(session=session, data=unknown_family)

    assert refused.value.detail == api_detail == "Family 'no-such-family' does not exist"
    assert "seed: while writing action 3" in refused.value.__notes__


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda data: data["actions"][4]["conventions"]["years"][0].update(fse_amount=180_001),
            "fse_amount (180001) exceeds budget (180000)",  # one operator: the whole total,
        ),
        (
            lambda data: data["actions"][3]["conventions"]["years"][0].update(year=2018),
            "Year 2018 is outside the convention's dates (2019-01-01 to 2020-12-31)",
        ),
    ],
    ids=["fse-over-budget", "year-outside-dates"],
)
def test_a_yearly_line_the_conventions_service_refuses(session, change, message):
    with pytest.raises(InvalidInput) as refused:
        load_catalogue(session=session, data=_data_with(change))
    assert refused.value.detail == message


def test_pdi_seed_refused_half_way_commits_nothing(engine, monkeypatch):
    """The family is renamed before the action with an unknown family is reached: `pdi seed`
    prints the service's message and commits none of it."""
    from typer.testing import CliRunner

    from app.cli import cli

    broken = _data_with(lambda data: data["actions"][2].update(family="no-such-family"))
    monkeypatch.setattr(loader, "read_seed_data", lambda: broken)
    with PdiSession(engine) as session:
        before = row_counts(session, *TABLES)

    result = CliRunner().invoke(cli, ["seed"])

    assert result.exit_code == 1, result.output
    assert "error: Family 'no-such-family' does not exist (seed: while writing action 3)" in result.output
    with PdiSession(engine) as session:
        assert row_counts(session, *TABLES) == before
        assert _family_name(session) == "Le référencement des publics"
