"""Load the seed catalogue of the bilan (catalogue.toml, operators.toml, assessments.toml) into the database.

Idempotent: each row is found by its natural key (family code, action code, operator name,
site (operator, name), convention reference, convention year (convention, year), assessment
(action, year)) and created
when missing. When it exists, the fields the files describe are set to the files' values: the
files are the reference, so an admin's edit of a seeded field is undone by the next `pdi seed`,
while fields the files leave out (an operator's address, SIRET, e-mail…, the commune of an
operator other than a CCAS, a site's address), and rows or site links they do not name, are
left alone. A site's coordinates are its commune's centre (operators.toml names the source).
A second run on an unchanged database writes nothing. Every created or changed row is written
to the audit log under the CLI caller. Only flushes: the caller commits.

The document gives each action's places, budget and FSE share as totals for all its operators;
`convention_lines` splits them across the operators (see `split_evenly`).
"""

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, SQLModel, select

from app.assessments.models import ActionAssessment
from app.assessments.schemas import AssessmentWrite
from app.assessments.service import feed_id
from app.audit.service import record
from app.catalogue.models import Action, ActionFormat, Family, Operator, Site, Territory
from app.catalogue.schemas import ActionDataInclusion
from app.conventions.models import BudgetKind, Convention, ConventionSite, ConventionStatus, ConventionYear
from app.core.caller import CLI
from app.periods.service import ensure_open
from app.reference.indicators import INDICATORS_BY_CODE

DATA_DIR = Path(__file__).resolve().parent  # the .toml files ship beside this module (package data)
DATA_FILES = ("catalogue.toml", "operators.toml", "assessments.toml")
DEFAULT_MONTHS_PER_PLACE = 12
# See catalogue.toml: the demo years are shown as running conventions.
DEFAULT_STATUS = ConventionStatus.active
# The data·inclusion fields of an action, checked as the API checks them (app/catalogue/schemas.py).
DATA_INCLUSION_FIELDS = tuple(ActionDataInclusion.model_fields)


class SeedDataError(ValueError):
    """The data files contradict themselves (an unknown key, a year outside its dates…)."""


def read_seed_data() -> dict[str, Any]:
    """The data files, merged into one mapping (families, actions, communes, operators, sites)."""
    data: dict[str, Any] = {}
    for name in DATA_FILES:
        content = tomllib.loads((DATA_DIR / name).read_text(encoding="utf-8"))
        overlap = data.keys() & content.keys()
        if overlap:
            raise SeedDataError(f"{name} repeats the tables {sorted(overlap)}")
        data.update(content)
    check_seed_data(data)
    return data


def split_evenly(total: int, parts: int) -> list[int]:
    """`total` whole units shared by `parts` as equally as possible, in order.

    This is the largest-remainder method with equal weights: every part gets the quotient, and
    the remaining units go one each to the first parts. So split_evenly(501, 7) is
    [72, 72, 72, 72, 71, 71, 71]: the parts add up to the total exactly and differ by at most 1.
    Applied to a budget and to its FSE share with the same operator order, it keeps each
    operator's FSE share ≤ its budget whenever the totals are so.
    """
    if parts < 1:
        raise ValueError("parts must be at least 1")
    quotient, remainder = divmod(total, parts)
    return [quotient + (1 if index < remainder else 0) for index in range(parts)]


def convention_lines(conventions: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """Each operator's yearly line, from an action's totals: {operator key: {year: fields}}.

    Illustrative: the document gives totals per action only. Places, budget and FSE share are
    split in whole units (places, euros) by `split_evenly`, operators taken in the order the
    document lists them, so the first operators get the remainder; a null total (the
    document's "NC", or no places) stays null on every convention. months_per_place and
    budget_kind are the action's; hours_threshold is given per operator.
    """
    operators: list[str] = conventions["operators"]
    thresholds: dict[str, int] = conventions.get("hours_threshold", {})
    lines: dict[str, dict[int, dict[str, Any]]] = {key: {} for key in operators}
    for total in conventions["years"]:
        shares = {
            field: split_evenly(total[field], len(operators)) if total.get(field) is not None else None
            for field in ("places", "budget", "fse_amount")
        }
        for index, key in enumerate(operators):
            lines[key][total["year"]] = {
                "places": shares["places"][index] if shares["places"] is not None else None,
                "months_per_place": total.get("months_per_place", DEFAULT_MONTHS_PER_PLACE),
                "budget": Decimal(shares["budget"][index]) if shares["budget"] is not None else None,
                "budget_kind": BudgetKind(total["budget_kind"]),
                "fse_amount": Decimal(shares["fse_amount"][index]) if shares["fse_amount"] is not None else None,
                "hours_threshold": thresholds.get(key),
            }
    return lines


def convention_reference(*, action_number: int, operator_key: str) -> str:
    return f"PDI-{action_number}-{operator_key}"


def load_catalogue(*, session: Session) -> str:
    """Create or bring up to date the seed catalogue; return a one-line summary."""
    data = read_seed_data()
    tally = _Tally()
    families = _load_families(session=session, tally=tally, families=data["families"])
    actions = _load_actions(session=session, tally=tally, actions=data["actions"], families=families)
    operators = _load_operators(session=session, tally=tally, operators=data["operators"], communes=data["communes"])
    sites = _load_sites(
        session=session, tally=tally, sites=data["sites"], operators=operators, communes=data["communes"]
    )
    conventions, years = _load_conventions(
        session=session, tally=tally, actions=data["actions"], action_rows=actions, operators=operators, sites=sites
    )
    assessments = _load_assessments(session=session, tally=tally, assessments=data["assessments"], actions=actions)
    return (
        f"seed: {len(families)} families, {len(actions)} actions, {len(operators)} operators, {len(sites)} sites, "
        f"{conventions} conventions, {years} convention years, {assessments} assessments "
        f"(created {tally.created}, updated {tally.updated}, unchanged {tally.unchanged})"
    )


# --- checks on the data files ---------------------------------------------------------------------


def check_seed_data(data: dict[str, Any]) -> None:
    """Refuse data files whose parts do not fit together, before anything is written."""
    family_codes = _unique([family["code"] for family in data["families"]], "family code")
    _unique([action["code"] for action in data["actions"]], "action code")
    _unique([action["number"] for action in data["actions"]], "action number")
    operator_keys = _unique([operator["key"] for operator in data["operators"]], "operator key")
    _unique([operator["name"] for operator in data["operators"]], "operator name")
    communes = data["communes"]
    for name, commune in communes.items():
        Territory(commune["territory"])
        _check_centre(commune, where=f"commune {name}")
    for operator in data["operators"]:
        if operator.get("commune") is not None and operator["commune"] not in communes:
            raise SeedDataError(f"operator {operator['key']}: unknown commune {operator['commune']!r}")
    site_owners = [site["operator"] for site in data["sites"]]
    _unique(site_owners, "site operator (one site per operator)")
    if set(site_owners) != operator_keys:
        raise SeedDataError(f"operators without exactly one site: {sorted(operator_keys ^ set(site_owners))}")
    for site in data["sites"]:
        if site["commune"] not in communes:
            raise SeedDataError(f"site {site['name']!r}: unknown commune {site['commune']!r}")
    for action in data["actions"]:
        where = f"action {action['number']}"
        if action["family"] not in family_codes:
            raise SeedDataError(f"{where}: unknown family {action['family']!r}")
        ActionFormat(action["format"])
        _check_data_inclusion(action, where=where)
        unknown = [code for code in action["indicators"] if code not in INDICATORS_BY_CODE]
        if unknown:
            raise SeedDataError(f"{where}: unknown indicators {unknown}")
        conventions = action["conventions"]
        _unique(conventions["operators"], f"{where} operator")
        missing = set(conventions["operators"]) - operator_keys
        if missing:
            raise SeedDataError(f"{where}: unknown operators {sorted(missing)}")
        if set(conventions.get("hours_threshold", {})) - set(conventions["operators"]):
            raise SeedDataError(f"{where}: an hours threshold names an operator outside the action")
        _unique([total["year"] for total in conventions["years"]], f"{where} year")
        for total in conventions["years"]:
            _check_total(total, where=f"{where}, {total['year']}", conventions=conventions)
    action_codes = {action["code"] for action in data["actions"]}
    _unique([(item["action"], item["year"]) for item in data["assessments"]], "assessment (action, year)")
    for item in data["assessments"]:
        where = f"assessment {item['action']} {item['year']}"
        if item["action"] not in action_codes:
            raise SeedDataError(f"{where}: unknown action")
        try:
            # As the API checks a PUT, without trimming: the files' points are stored as written.
            AssessmentWrite.model_validate({"points": item["points"]})
        except ValidationError as error:
            raise SeedDataError(f"{where}: {error}") from None
        if any(point != point.strip() for point in item["points"]):
            raise SeedDataError(f"{where}: a point starts or ends with spaces")


def _check_total(total: dict[str, Any], *, where: str, conventions: dict[str, Any]) -> None:
    if not conventions["start_on"].year <= total["year"] <= conventions["end_on"].year:
        raise SeedDataError(f"{where}: the year is outside the conventions' dates")
    for field in ("places", "budget", "fse_amount"):
        value = total.get(field)
        # Whole units only: the split is in whole places and whole euros.
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise SeedDataError(f"{where}: {field} must be a whole number ≥ 0")
    if total.get("fse_amount") is not None and (total.get("budget") is None or total["fse_amount"] > total["budget"]):
        raise SeedDataError(f"{where}: the FSE share must be a part of a known budget")
    if not 1 <= total.get("months_per_place", DEFAULT_MONTHS_PER_PLACE) <= 12:
        raise SeedDataError(f"{where}: months_per_place must lie in 1..12")
    BudgetKind(total["budget_kind"])


def _check_centre(commune: dict[str, Any], *, where: str) -> None:
    latitude, longitude = commune.get("latitude"), commune.get("longitude")
    if not isinstance(latitude, float) or not isinstance(longitude, float):
        raise SeedDataError(f"{where}: latitude and longitude must both be given, in decimal degrees")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise SeedDataError(f"{where}: coordinates out of range")


def _check_data_inclusion(action: dict[str, Any], *, where: str) -> None:
    try:
        ActionDataInclusion.model_validate({name: action[name] for name in DATA_INCLUSION_FIELDS if name in action})
    except ValidationError as error:
        raise SeedDataError(f"{where}: data·inclusion fields: {error}") from None


def _unique(values: list, what: str) -> set:
    seen: set = set()
    repeated: set[str] = set()
    for value in values:
        if value in seen:
            repeated.add(str(value))
        seen.add(value)
    if repeated:
        raise SeedDataError(f"repeated {what}: {sorted(repeated)}")
    return seen


# --- writing ----------------------------------------------------------------------------------------


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


def _write(*, session: Session, existing: SQLModel | None, model: type[SQLModel], values: dict[str, Any]):
    """Create the row, or set its differing fields; returns (row, "create"|"update"|None, fields written)."""
    if existing is None:
        row = model(**values)
        session.add(row)
        session.flush()
        return row, "create", list(values)
    changed = [field for field, value in values.items() if getattr(existing, field) != value]
    if not changed:
        return existing, None, []
    for field in changed:
        setattr(existing, field, values[field])
    session.add(existing)
    session.flush()
    return existing, "update", changed


def _audit(*, session: Session, entity: str, entity_id: object, action: str | None, fields: Iterable[str]) -> None:
    if action is not None:
        record(session=session, caller=CLI, entity=entity, entity_id=entity_id, action=action, fields=fields)


def _load_families(*, session: Session, tally: _Tally, families: list[dict]) -> dict[str, Family]:
    codes = [family["code"] for family in families]
    existing = {row.code: row for row in session.exec(select(Family).where(Family.code.in_(codes)))}
    rows = {}
    for family in families:
        values = {
            "code": family["code"],
            "name": family["name"],
            "position": family["position"],
            "description": family.get("description"),
        }
        row, action, fields = _write(
            session=session, existing=existing.get(family["code"]), model=Family, values=values
        )
        _audit(session=session, entity="family", entity_id=row.code, action=action, fields=fields)
        tally.count(action)
        rows[row.code] = row
    return rows


def _load_actions(
    *, session: Session, tally: _Tally, actions: list[dict], families: dict[str, Family]
) -> dict[str, Action]:
    codes = [action["code"] for action in actions]
    existing = {row.code: row for row in session.exec(select(Action).where(Action.code.in_(codes)))}
    rows = {}
    for action in actions:
        values = {
            "code": action["code"],
            "number": action["number"],
            "family_id": families[action["family"]].id,
            "name": action["name"],
            "description": action.get("description"),
            "target_public": action.get("target_public"),
            "min_duration_months": action.get("min_duration_months"),
            "max_duration_months": action.get("max_duration_months"),
            "format": ActionFormat(action["format"]),
            "indicators": list(action["indicators"]),
        } | {name: action.get(name) for name in DATA_INCLUSION_FIELDS}
        row, audit_action, fields = _write(
            session=session, existing=existing.get(action["code"]), model=Action, values=values
        )
        _audit(session=session, entity="action", entity_id=row.code, action=audit_action, fields=fields)
        tally.count(audit_action)
        rows[row.code] = row
    return rows


def _load_operators(
    *, session: Session, tally: _Tally, operators: list[dict], communes: dict[str, dict]
) -> dict[str, Operator]:
    """Operators by key. An operator is found again by its name (the first such row, by id)."""
    names = [operator["name"] for operator in operators]
    existing: dict[str, Operator] = {}
    for row in session.exec(select(Operator).where(Operator.name.in_(names)).order_by(Operator.id)):
        existing.setdefault(row.name, row)
    rows = {}
    for operator in operators:
        values = {"name": operator["name"], "legal_form": operator.get("legal_form")}
        # Only the CCAS's communes are known; another operator's commune is the admin's to set.
        if operator.get("commune") is not None:
            values |= {"commune": operator["commune"], "postcode": communes[operator["commune"]]["postcode"]}
        row, action, fields = _write(
            session=session, existing=existing.get(operator["name"]), model=Operator, values=values
        )
        _audit(session=session, entity="operator", entity_id=row.id, action=action, fields=fields)
        tally.count(action)
        rows[operator["key"]] = row
    return rows


def _load_sites(
    *, session: Session, tally: _Tally, sites: list[dict], operators: dict[str, Operator], communes: dict[str, dict]
) -> dict[str, Site]:
    """Sites by their operator's key (one each)."""
    operator_ids = [operator.id for operator in operators.values()]
    existing: dict[tuple[int, str], Site] = {}
    for row in session.exec(select(Site).where(Site.operator_id.in_(operator_ids)).order_by(Site.id)):
        existing.setdefault((row.operator_id, row.name), row)
    rows = {}
    for site in sites:
        operator_id = operators[site["operator"]].id
        commune = communes[site["commune"]]
        values = {
            "operator_id": operator_id,
            "name": site["name"],
            "commune": site["commune"],
            "postcode": commune["postcode"],
            "insee_code": commune["insee_code"],
            "territory": Territory(commune["territory"]),
            "latitude": commune["latitude"],
            "longitude": commune["longitude"],
        }
        row, action, fields = _write(
            session=session, existing=existing.get((operator_id, site["name"])), model=Site, values=values
        )
        _audit(session=session, entity="site", entity_id=row.id, action=action, fields=fields)
        tally.count(action)
        rows[site["operator"]] = row
    return rows


def _load_conventions(
    *,
    session: Session,
    tally: _Tally,
    actions: list[dict],
    action_rows: dict[str, Action],
    operators: dict[str, Operator],
    sites: dict[str, Site],
) -> tuple[int, int]:
    """One convention per (action, operator), its yearly lines and its site; returns the counts."""
    references = [
        convention_reference(action_number=action["number"], operator_key=key)
        for action in actions
        for key in action["conventions"]["operators"]
    ]
    existing = {
        row.reference: row for row in session.exec(select(Convention).where(Convention.reference.in_(references)))
    }
    existing_ids = [row.id for row in existing.values()]
    existing_years = {
        (line.convention_id, line.year): line
        for line in session.exec(select(ConventionYear).where(ConventionYear.convention_id.in_(existing_ids)))
    }
    existing_links = set(
        session.exec(
            select(ConventionSite.convention_id, ConventionSite.site_id).where(
                ConventionSite.convention_id.in_(existing_ids)
            )
        )
    )
    convention_count = year_count = 0
    for action in actions:
        conventions = action["conventions"]
        lines = convention_lines(conventions)
        for key in conventions["operators"]:
            reference = convention_reference(action_number=action["number"], operator_key=key)
            values = {
                "reference": reference,
                "action_id": action_rows[action["code"]].id,
                "operator_id": operators[key].id,
                "start_on": conventions["start_on"],
                "end_on": conventions["end_on"],
                "status": ConventionStatus(conventions.get("status", DEFAULT_STATUS)),
            }
            convention, action_done, fields = _write(
                session=session, existing=existing.get(reference), model=Convention, values=values
            )
            site_id = sites[key].id
            if (convention.id, site_id) not in existing_links:
                session.add(ConventionSite(convention_id=convention.id, site_id=site_id))
                fields.append("site_ids")
                action_done = action_done or "update"
            tally.count(action_done)
            for year, line_values in lines[key].items():
                line_action = _write_year(
                    session=session,
                    existing=existing_years.get((convention.id, year)),
                    values={"convention_id": convention.id, "year": year, **line_values},
                )
                tally.count(line_action)
                if line_action is not None:
                    fields.append(f"years.{year}")
                year_count += 1
            session.flush()
            # The yearly lines are shown as part of their convention (as the API does), so a
            # changed line is an update of the convention in the audit log.
            audit_action = action_done or ("update" if fields else None)
            _audit(session=session, entity="convention", entity_id=convention.id, action=audit_action, fields=fields)
            convention_count += 1
    return convention_count, year_count


def _write_year(*, session: Session, existing: ConventionYear | None, values: dict[str, Any]) -> str | None:
    """A yearly line holds figures of its year: a consolidated year refuses any change (409)."""
    changing = existing is None or any(getattr(existing, field) != value for field, value in values.items())
    if changing:
        ensure_open(session=session, years=[values["year"]])
    _row, action, _fields = _write(session=session, existing=existing, model=ConventionYear, values=values)
    return action


def _load_assessments(*, session: Session, tally: _Tally, assessments: list[dict], actions: dict[str, Action]) -> int:
    """Each action's bilan qualitatif of the files' years; returns how many the files hold."""
    action_ids = [row.id for row in actions.values()]
    existing = {
        (row.action_id, row.year): row
        for row in session.exec(select(ActionAssessment).where(ActionAssessment.action_id.in_(action_ids)))
    }
    for item in assessments:
        action_id = actions[item["action"]].id
        values = {"action_id": action_id, "year": item["year"], "points": list(item["points"])}
        _row, action, fields = _write(
            session=session, existing=existing.get((action_id, item["year"])), model=ActionAssessment, values=values
        )
        _audit(
            session=session,
            entity="assessment",
            entity_id=feed_id(item["action"], item["year"]),
            action=action,
            fields=fields if action == "update" else ["points"],
        )
        tally.count(action)
    return len(assessments)
