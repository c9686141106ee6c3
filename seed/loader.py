"""Load the seed catalogue of the bilan (the data files, seed/data.py) into the database.

Every row is written through its domain's service (app/catalogue, app/conventions,
app/assessments), as the API writes it: the same schemas have checked each value
(`check_seed_data`), and the same rules check each write (an unknown family, a year outside a
convention's dates, an FSE share above its budget, a consolidated year), with the same errors
and messages, the row named in a note (`InvalidInput`, `Conflict`, `PeriodConsolidated`…). The
services also record the audit events, under the CLI caller, and the change feed sees the writes
as it sees the API's. Only flushes: the caller commits, so a refused load leaves nothing behind
(`pdi seed` rolls back).

Idempotent: each row is found by its natural key (family code, action code, operator name,
site (operator, name), convention reference, convention year (convention, year), assessment
(action, year)) and created when missing. When it exists, the fields the files describe are
set to the files' values, and only those that differ: the files are the reference, so an
admin's edit of a seeded field is undone by the next `pdi seed`, while fields the files leave
out (an operator's address, SIRET, e-mail… unless its entry gives them, the commune of an
operator other than a CCAS, a site's address, a yearly line's targets), and rows or site links
they do not name, are left alone. A site's coordinates are its commune's centre (operators.toml
names the source). A second run on an unchanged database writes nothing.
"""

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from app.assessments import service as assessments_service
from app.assessments.models import ActionAssessment
from app.assessments.schemas import AssessmentWrite
from app.catalogue import service as catalogue_service
from app.catalogue.models import Action, Family, Operator, Site
from app.catalogue.schemas import (
    ActionCreate,
    ActionUpdate,
    FamilyCreate,
    FamilyUpdate,
    OperatorCreate,
    OperatorUpdate,
    SiteCreate,
    SiteUpdate,
)
from app.conventions import service as conventions_service
from app.conventions.models import Convention, ConventionSite, ConventionYear
from app.conventions.schemas import ConventionCreate, ConventionUpdate, ConventionYearBody, ConventionYearCreate
from app.core.caller import CLI
from app.core.errors import AppError
from seed.data import SeedConvention, SeedDataError, check_seed_data, read_seed_data

# What loading the catalogue fills, through the services: its rows, their feed rows, the seat
# counters the conventions get, the audit events (`pdi seed` analyses them once committed).
CATALOGUE_TABLES = (
    Family,
    Action,
    Operator,
    Site,
    Convention,
    ConventionSite,
    ConventionYear,
    ActionAssessment,
    "change",
    "convention_seats",
    "audit_event",
)

LINE_FIELDS = ("places", "months_per_place", "budget", "budget_kind", "fse_amount", "hours_threshold")


def load_catalogue(*, session: Session, data: dict[str, Any] | None = None) -> str:
    """Create or bring up to date the seed catalogue (the shipped files, or `data` read as they
    are); return a one-line summary."""
    bodies = check_seed_data(read_seed_data() if data is None else data)
    tally = _Tally()
    families = _load_families(session=session, tally=tally, bodies=bodies.families)
    actions = _load_actions(session=session, tally=tally, bodies=bodies.actions)
    operators = _load_operators(session=session, tally=tally, bodies=bodies.operators)
    sites = _load_sites(session=session, tally=tally, bodies=bodies.sites, operators=operators)
    conventions, years = _load_conventions(
        session=session, tally=tally, bodies=bodies.conventions, operators=operators, sites=sites
    )
    assessments = _load_assessments(session=session, tally=tally, bodies=bodies.assessments, actions=actions)
    return (
        f"seed: {len(families)} families, {len(actions)} actions, {len(operators)} operators, {len(sites)} sites, "
        f"{conventions} conventions, {years} convention years, {assessments} assessments "
        f"(created {tally.created}, updated {tally.updated}, unchanged {tally.unchanged})"
    )


def load_families_only(*, session: Session) -> str:
    """The families of actions (the programme's axes), for a département starting with an empty
    catalogue (`pdi init`): none of the Sarthe's actions, operators, conventions or assessments."""
    data = {"families": read_seed_data()["families"], "actions": [], "communes": {}, "operators": []}
    data |= {"sites": [], "assessments": []}
    return load_catalogue(session=session, data=data)


# --- writing, through the services ----------------------------------------------------------------


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, action: str | None) -> None:
        if action == "create":
            self.created += 1
        elif action == "update":
            self.updated += 1
        else:
            self.unchanged += 1


def _differences(row: Any, values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if getattr(row, name) != value}


class _Writing:
    """Names the row a service refused (a note on its error, which stays the service's own)."""

    def __init__(self, where: str):
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _traceback) -> bool:
        if isinstance(error, AppError):
            error.add_note(f"seed: while writing {self.where}")
        return False


def _load_families(*, session: Session, tally: _Tally, bodies: list[FamilyCreate]) -> dict[str, Family]:
    codes = [body.code for body in bodies]
    existing = {row.code: row for row in session.exec(select(Family).where(Family.code.in_(codes)))}
    for body in bodies:
        row = existing.get(body.code)
        with _Writing(f"family {body.code}"):
            if row is None:
                catalogue_service.create_family(session=session, caller=CLI, data=body)
                tally.count("create")
                continue
            changes = _differences(row, body.model_dump())
            if changes:
                data = FamilyUpdate.model_validate(changes)
                catalogue_service.update_family(session=session, caller=CLI, code=row.code, data=data, if_match=None)
            tally.count("update" if changes else None)
    return {row.code: row for row in session.exec(select(Family).where(Family.code.in_(codes)))}


def _load_actions(*, session: Session, tally: _Tally, bodies: list[ActionCreate]) -> dict[str, Action]:
    codes = [body.code for body in bodies]
    existing = {row.code: row for row in session.exec(select(Action).where(Action.code.in_(codes)))}
    family_codes = dict(session.exec(select(Family.id, Family.code)).all())
    for body in bodies:
        row = existing.get(body.code)
        with _Writing(f"action {body.number}"):
            if row is None:
                catalogue_service.create_action(session=session, caller=CLI, data=body)
                tally.count("create")
                continue
            values = body.model_dump(exclude={"family"})
            changes = _differences(row, values)
            if family_codes.get(row.family_id) != body.family:
                changes["family"] = body.family
            if changes:
                data = ActionUpdate.model_validate(changes)
                catalogue_service.update_action(session=session, caller=CLI, code=row.code, data=data, if_match=None)
            tally.count("update" if changes else None)
    return {row.code: row for row in session.exec(select(Action).where(Action.code.in_(codes)))}


def _load_operators(*, session: Session, tally: _Tally, bodies: dict[str, OperatorCreate]) -> dict[str, int]:
    """Operators' ids by key. An operator is found again by its name (the first such row, by id)."""
    names = [body.name for body in bodies.values()]
    existing: dict[str, Operator] = {}
    for row in session.exec(select(Operator).where(Operator.name.in_(names)).order_by(Operator.id)):
        existing.setdefault(row.name, row)
    ids = {}
    for key, body in bodies.items():
        row = existing.get(body.name)
        with _Writing(f"operator {key}"):
            if row is None:
                ids[key] = catalogue_service.create_operator(session=session, caller=CLI, data=body).id
                tally.count("create")
                continue
            changes = _differences(row, body.model_dump(exclude_unset=True))
            if changes:
                data = OperatorUpdate.model_validate(changes)
                catalogue_service.update_operator(
                    session=session, caller=CLI, operator_id=row.id, data=data, if_match=None
                )
            tally.count("update" if changes else None)
            ids[key] = row.id
    return ids


def _load_sites(
    *, session: Session, tally: _Tally, bodies: dict[str, SiteCreate], operators: dict[str, int]
) -> dict[str, int]:
    """Sites' ids by their operator's key (one each)."""
    existing: dict[tuple[int, str], Site] = {}
    for row in session.exec(select(Site).where(Site.operator_id.in_(list(operators.values()))).order_by(Site.id)):
        existing.setdefault((row.operator_id, row.name), row)
    ids = {}
    for key, body in bodies.items():
        operator_id = operators[key]
        row = existing.get((operator_id, body.name))
        with _Writing(f"site {body.name!r}"):
            if row is None:
                site = catalogue_service.create_site(session=session, caller=CLI, operator_id=operator_id, data=body)
                ids[key] = site.id
                tally.count("create")
                continue
            changes = _differences(row, body.model_dump(exclude_unset=True))
            if changes:
                data = SiteUpdate.model_validate(changes)
                catalogue_service.update_site(session=session, caller=CLI, site_id=row.id, data=data)
            tally.count("update" if changes else None)
            ids[key] = row.id
    return ids


def _load_conventions(
    *,
    session: Session,
    tally: _Tally,
    bodies: list[SeedConvention],
    operators: dict[str, int],
    sites: dict[str, int],
) -> tuple[int, int]:
    """One convention per (action, operator), its yearly lines and its site; returns the counts."""
    references = [body.fields.reference for body in bodies]
    existing = {
        row.reference: row for row in session.exec(select(Convention).where(Convention.reference.in_(references)))
    }
    existing_ids = [row.id for row in existing.values()]
    existing_years = {
        (line.convention_id, line.year): line
        for line in session.exec(select(ConventionYear).where(ConventionYear.convention_id.in_(existing_ids)))
    }
    links: dict[int, list[int]] = {convention_id: [] for convention_id in existing_ids}
    for convention_id, site_id in session.exec(
        select(ConventionSite.convention_id, ConventionSite.site_id)
        .where(ConventionSite.convention_id.in_(existing_ids))
        .order_by(ConventionSite.convention_id, ConventionSite.site_id)
    ):
        links[convention_id].append(site_id)
    action_codes = dict(session.exec(select(Action.id, Action.code)).all())
    year_count = 0
    for body in bodies:
        reference, operator_id, site_id = body.fields.reference, operators[body.operator], sites[body.operator]
        row = existing.get(reference)
        year_count += len(body.years)
        with _Writing(f"convention {reference}"):
            if row is None:
                data = ConventionCreate.model_validate(
                    body.fields.model_dump(exclude_unset=True)
                    | {"action": body.action, "operator_id": operator_id, "site_ids": [site_id], "years": body.years}
                )
                conventions_service.create_convention(session=session, caller=CLI, data=data)
                tally.count("create")
                for _line in body.years:
                    tally.count("create")
                continue
            if (action_codes.get(row.action_id), row.operator_id) != (body.action, operator_id):
                # The API cannot move a convention to another action or operator; neither does the seed.
                raise SeedDataError(f"convention {reference}: stored for another action or operator than the files'")
            changes = _differences(row, body.fields.model_dump(exclude_unset=True, exclude={"reference"}))
            if site_id not in links[row.id]:
                changes["site_ids"] = [*links[row.id], site_id]  # other links are left alone
            if changes:
                conventions_service.update_convention(
                    session=session,
                    caller=CLI,
                    convention_id=row.id,
                    data=ConventionUpdate.model_validate(changes),
                    if_match=None,
                )
            tally.count("update" if changes else None)
            for line in body.years:
                tally.count(_write_year(session=session, convention_id=row.id, line=line, existing=existing_years))
    return len(bodies), year_count


def _write_year(
    *,
    session: Session,
    convention_id: int,
    line: ConventionYearCreate,
    existing: dict[tuple[int, int], ConventionYear],
) -> str | None:
    """PUT the yearly line when it is missing or differs (a consolidated year refuses it: 409)."""
    stored = existing.get((convention_id, line.year))
    values = line.model_dump(include=set(LINE_FIELDS))
    if stored is not None and not _differences(stored, values):
        return None
    # A line's targets are not in the files: a PUT replaces the whole line, so they are kept.
    targets = stored.targets if stored is not None else None
    conventions_service.put_year(
        session=session,
        caller=CLI,
        convention_id=convention_id,
        year=line.year,
        data=ConventionYearBody.model_validate(values | {"targets": targets}),
        if_match=None,
    )
    return "create" if stored is None else "update"


def _load_assessments(
    *, session: Session, tally: _Tally, bodies: list[tuple[str, int, AssessmentWrite]], actions: dict[str, Action]
) -> int:
    """Each action's bilan qualitatif of the files' years; returns how many the files hold."""
    ids = {code: row.id for code, row in actions.items()}
    existing = {
        (row.action_id, row.year): row
        for row in session.exec(select(ActionAssessment).where(ActionAssessment.action_id.in_(list(ids.values()))))
    }
    for code, year, body in bodies:
        stored = existing.get((ids[code], year))
        if stored is not None and list(stored.points) == list(body.points):
            tally.count(None)
            continue
        with _Writing(f"assessment {code} {year}"):
            assessments_service.put_assessment(
                session=session, caller=CLI, code=code, year=year, data=body, if_match=None
            )
        tally.count("create" if stored is None else "update")
    return len(bodies)
