"""The seed's data files (catalogue.toml, operators.toml, assessments.toml) and their checks.

`read_seed_data` merges the files; `check_seed_data` refuses files whose parts do not fit
together (a repeated code, an unknown key, an operator without its one site…) and turns every
row into the body the API's schemas take (`FamilyCreate`, `ActionCreate`, `OperatorCreate`,
`SiteCreate`, a convention's fields and yearly lines, `AssessmentWrite`), so a value the API
would refuse is refused here with the API's message, the row named, before anything is written.
What a write decides against the database is the services' to refuse (seed/loader.py).

The document gives each action's places, budget and FSE share as totals for all its operators;
`convention_lines` splits them across the operators (see `split_evenly`).
"""

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.assessments.schemas import AssessmentWrite
from app.catalogue.schemas import ActionCreate, FamilyCreate, OperatorCreate, SiteCreate
from app.conventions.models import ConventionStatus
from app.conventions.schemas import ConventionUpdate, ConventionYearCreate

DATA_DIR = Path(__file__).resolve().parent  # the .toml files ship beside this module (package data)
DATA_FILES = ("catalogue.toml", "operators.toml", "assessments.toml")
DEFAULT_MONTHS_PER_PLACE = 12
# See catalogue.toml: the demo years are shown as running conventions.
DEFAULT_STATUS = ConventionStatus.active
# What an operator's entry may give, as the API takes it; `key` names it within the files.
OPERATOR_FIELDS = tuple(OperatorCreate.model_fields)
Body = TypeVar("Body", bound=BaseModel)


class SeedDataError(ValueError):
    """The data files contradict themselves (an unknown key…) or hold a value the API's schemas refuse."""


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
                "budget_kind": total["budget_kind"],  # checked by the schema (ConventionYearBody)
                "fse_amount": Decimal(shares["fse_amount"][index]) if shares["fse_amount"] is not None else None,
                "hours_threshold": thresholds.get(key),
            }
    return lines


def convention_reference(*, action_number: int, operator_key: str) -> str:
    return f"PDI-{action_number}-{operator_key}"


# --- checks on the data files ---------------------------------------------------------------------


@dataclass
class SeedConvention:
    """One (action, operator) convention as the files give it; ids are the database's, so the
    body is completed when it is written."""

    action: str  # the action's code
    operator: str  # the operator's key
    fields: ConventionUpdate  # reference, status, start_on, end_on
    years: list[ConventionYearCreate]


@dataclass
class SeedBodies:
    """The files' rows as the services take them, checked by the API's schemas."""

    families: list[FamilyCreate] = field(default_factory=list)
    actions: list[ActionCreate] = field(default_factory=list)
    operators: dict[str, OperatorCreate] = field(default_factory=dict)  # by key
    sites: dict[str, SiteCreate] = field(default_factory=dict)  # by their operator's key
    conventions: list[SeedConvention] = field(default_factory=list)
    assessments: list[tuple[str, int, AssessmentWrite]] = field(default_factory=list)


def check_seed_data(data: dict[str, Any]) -> SeedBodies:
    """Refuse data files whose parts do not fit together, or whose values the API's schemas refuse,
    before anything is written; return the rows as the services take them.

    What a write decides against the database (a family that does not exist, a year outside its
    convention's dates, an FSE share above the budget, a consolidated year) is the services'
    to refuse, when the row is written."""
    bodies = SeedBodies()
    _unique([family["code"] for family in data["families"]], "family code")
    _unique([action["code"] for action in data["actions"]], "action code")
    _unique([action["number"] for action in data["actions"]], "action number")
    operator_keys = _unique([operator["key"] for operator in data["operators"]], "operator key")
    _unique([operator["name"] for operator in data["operators"]], "operator name")
    communes = data["communes"]
    for family in data["families"]:
        bodies.families.append(_body(FamilyCreate, family, where=f"family {family['code']}"))
    for operator in data["operators"]:
        where = f"operator {operator['key']}"
        # A legal form the document does not state is null; the other fields only when given.
        values = {"legal_form": None} | {name: operator[name] for name in OPERATOR_FIELDS if name in operator}
        # Only the CCAS's communes are known; another operator's commune is the admin's to set.
        if operator.get("commune") is not None:
            if operator["commune"] not in communes:
                raise SeedDataError(f"{where}: unknown commune {operator['commune']!r}")
            values["postcode"] = communes[operator["commune"]].get("postcode")
        bodies.operators[operator["key"]] = _body(OperatorCreate, values, where=where)
    site_owners = [site["operator"] for site in data["sites"]]
    _unique(site_owners, "site operator (one site per operator)")
    if set(site_owners) != operator_keys:
        raise SeedDataError(f"operators without exactly one site: {sorted(operator_keys ^ set(site_owners))}")
    for site in data["sites"]:
        where = f"site {site['name']!r}"
        commune = communes.get(site["commune"])
        if commune is None:
            raise SeedDataError(f"{where}: unknown commune {site['commune']!r}")
        if commune.get("latitude") is None or commune.get("longitude") is None:  # the seed's own rule
            raise SeedDataError(f"{where}: its commune {site['commune']}'s centre (latitude, longitude) is not given")
        values = {"name": site["name"], "commune": site["commune"]} | {
            name: commune.get(name) for name in ("postcode", "insee_code", "territory", "latitude", "longitude")
        }
        bodies.sites[site["operator"]] = _body(SiteCreate, values, where=where)
    for action in data["actions"]:
        where = f"action {action['number']}"
        values = {name: action[name] for name in ActionCreate.model_fields if name in action}
        bodies.actions.append(_body(ActionCreate, values, where=where))
        bodies.conventions += _conventions_of(action, operator_keys=operator_keys, where=where)
    action_codes = {action["code"] for action in data["actions"]}
    _unique([(item["action"], item["year"]) for item in data["assessments"]], "assessment (action, year)")
    for item in data["assessments"]:
        where = f"assessment {item['action']} {item['year']}"
        if item["action"] not in action_codes:
            raise SeedDataError(f"{where}: unknown action")
        # As the API checks a PUT, without trimming: the files' points are stored as written.
        if any(point != point.strip() for point in item["points"]):
            raise SeedDataError(f"{where}: a point starts or ends with spaces")
        bodies.assessments.append(
            (item["action"], item["year"], _body(AssessmentWrite, {"points": item["points"]}, where=where))
        )
    return bodies


def _conventions_of(action: dict[str, Any], *, operator_keys: set[str], where: str) -> list[SeedConvention]:
    conventions = action["conventions"]
    _unique(conventions["operators"], f"{where} operator")
    missing = set(conventions["operators"]) - operator_keys
    if missing:
        raise SeedDataError(f"{where}: unknown operators {sorted(missing)}")
    if set(conventions.get("hours_threshold", {})) - set(conventions["operators"]):
        raise SeedDataError(f"{where}: an hours threshold names an operator outside the action")
    _unique([total["year"] for total in conventions["years"]], f"{where} year")
    for total in conventions["years"]:
        for name in ("places", "budget", "fse_amount"):
            value = total.get(name)
            # Whole units only: the split is in whole places and whole euros.
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise SeedDataError(f"{where}, {total['year']}: {name} must be a whole number ≥ 0")
    lines = convention_lines(conventions)
    result = []
    for key in conventions["operators"]:
        reference = convention_reference(action_number=action["number"], operator_key=key)
        fields = {
            "reference": reference,
            "start_on": conventions["start_on"],
            "end_on": conventions["end_on"],
            "status": conventions.get("status", DEFAULT_STATUS),
        }
        years = [
            _body(ConventionYearCreate, {"year": year, **line}, where=f"convention {reference}, {year}")
            for year, line in lines[key].items()
        ]
        result.append(SeedConvention(action["code"], key, _body(ConventionUpdate, fields, where=reference), years))
    return result


def _body(schema: type[Body], values: dict[str, Any], *, where: str) -> Body:
    """The API's body for these values, or the API's messages (pydantic's) naming the row."""
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        messages = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}" for item in error.errors()
        )
        raise SeedDataError(f"{where}: {messages}") from None


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
