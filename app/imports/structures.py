"""Operators and their sites from data·inclusion structures (SPEC C12): the publication
template's `Structures` sheet, or a JSON list as data·inclusion's API gives structures.

Each structure is checked with the data·inclusion schema's own model (its reasons are the
problem's), then written through the catalogue's services (their checks, audit and the change
feed): the operator is found by SIRET (created when none has it), the site by the structure's id
(created when none has it). The operator's fields come from the first structure of the file that
names its SIRET, so that two sites of one operator do not overwrite each other and a second
import of the same file changes nothing. Each structure is written in a savepoint: a bad one
never blocks the others; with `atomic` any bad one means nothing is stored (422).
"""

import json
from datetime import date
from typing import Any

from data_inclusion.schema import v1
from pydantic import ValidationError
from sqlmodel import Session, select

from app.catalogue import service as catalogue
from app.catalogue.models import Operator, Site
from app.catalogue.schemas import OperatorCreate, OperatorUpdate, SiteCreate, SiteUpdate
from app.core.caller import Caller
from app.core.errors import AppError, InvalidInput, validation_errors
from app.exports import template
from app.exports.service import structure_id
from app.imports.schemas import StructureImportAnswer, StructureImportCounts, StructureImportResult

XLSX_TYPE = template.XLSX_MEDIA_TYPE
JSON_TYPE = "application/json"
# The source a structure of the template is checked under (the template has no column for it).
TEMPLATE_SOURCE = "import"


class StructuresRejected(InvalidInput):
    """An all-or-nothing import with a bad structure: nothing stored, every line's result returned."""

    def __init__(self, answer: StructureImportAnswer):
        super().__init__(f"{answer.counts.error} structure(s) in error: with atomic=true nothing was stored")
        self.answer = answer

    def to_problem(self) -> dict[str, Any]:
        return super().to_problem() | self.answer.model_dump(mode="json")


def read_structures(*, media_type: str, body: bytes) -> list[tuple[int, Any]]:
    """(line, raw structure) in the file's order."""
    if media_type == XLSX_TYPE:
        try:
            return template.read_rows(body, template.STRUCTURES)
        except template.TemplateError as exc:
            raise InvalidInput(f"Not data·inclusion's template: {exc}", loc=["body"]) from exc
    try:
        items = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput("The body is not valid JSON", loc=["body"]) from exc
    if isinstance(items, dict) and isinstance(items.get("items"), list):  # a page of data·inclusion's API
        items = items["items"]
    if not isinstance(items, list):
        raise InvalidInput("The body must be a JSON list of structures (or a page with `items`)", loc=["body"])
    return list(enumerate(items, start=1))


def import_structures(
    *, session: Session, caller: Caller, structures: list[tuple[int, Any]], own_source: str, today: date, atomic: bool
) -> StructureImportAnswer:
    results: list[StructureImportResult] = []
    counts = StructureImportCounts()
    operator_fields_set: set[str] = set()  # SIRETs whose operator this file has already written
    for line, raw in structures:
        try:
            structure = _checked(raw, today=today)
            with session.begin_nested():
                status, operator_id, site_id = _write(
                    session=session,
                    caller=caller,
                    structure=structure,
                    own_source=own_source,
                    set_operator=structure.siret not in operator_fields_set,
                )
            operator_fields_set.add(structure.siret)
            result = StructureImportResult(line=line, status=status, operator_id=operator_id, site_id=site_id)
        except AppError as exc:
            result = StructureImportResult(line=line, status="error", problem=exc.to_problem())
        setattr(counts, result.status, getattr(counts, result.status) + 1)
        results.append(result)
    answer = StructureImportAnswer(items=results, counts=counts)
    if atomic and counts.error:
        raise StructuresRejected(answer)
    return answer


def _checked(raw: Any, *, today: date) -> v1.Structure:
    """The structure as the schema's model reads it; the template gives no source and may give no
    date_maj (the import's day then)."""
    if not isinstance(raw, dict):
        raise InvalidInput("A structure is an object of the schema's fields", loc=["body"])
    # The schema refuses a date_maj "in the future" by this machine's calendar (`date.today()`),
    # which runs behind the département's day for an hour or two each night (UTC against Paris).
    values = {"source": TEMPLATE_SOURCE, "date_maj": min(today, date.today())} | raw
    try:
        structure = v1.Structure.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(
            "The structure does not follow the data·inclusion schema", errors=validation_errors(exc.errors())
        ) from exc
    if structure.siret is None:
        raise InvalidInput(
            "A structure without SIRET cannot be matched to an operator",
            errors=[{"loc": ["siret"], "msg": "required: operators are matched by SIRET"}],
        )
    if not structure.commune:
        raise InvalidInput(
            "A structure without commune cannot be a site", errors=[{"loc": ["commune"], "msg": "required for a site"}]
        )
    return structure


def _write(
    *, session: Session, caller: Caller, structure: v1.Structure, own_source: str, set_operator: bool
) -> tuple[str, int, int]:
    created = updated = False
    operator_values = {
        "name": structure.nom,
        "siret": structure.siret,
        "address": structure.adresse,
        "postcode": structure.code_postal,
        "commune": structure.commune,
        "email": structure.courriel,
        "phone": structure.telephone,
        "website": str(structure.site_web) if structure.site_web else None,
    }
    operator = session.exec(select(Operator).where(Operator.siret == structure.siret)).first()
    with _fields_named():
        if operator is None:
            operator_id = catalogue.create_operator(
                session=session, caller=caller, data=OperatorCreate.model_validate(operator_values)
            ).id
            created = True
        else:
            operator_id = operator.id
            changes = _differences(operator, operator_values) if set_operator else {}
            if changes:
                catalogue.update_operator(
                    session=session,
                    caller=caller,
                    operator_id=operator_id,
                    data=OperatorUpdate.model_validate(changes),
                    if_match=None,
                )
                updated = True

    site_values = {
        "name": structure.nom,
        "address": structure.adresse,
        "postcode": structure.code_postal,
        "commune": structure.commune,
        "insee_code": structure.code_insee,
        "latitude": structure.latitude,
        "longitude": structure.longitude,
    }
    site = _site_of(session=session, structure=structure, operator_id=operator_id, own_source=own_source)
    with _fields_named():
        if site is None:
            site_id = catalogue.create_site(
                session=session, caller=caller, operator_id=operator_id, data=SiteCreate.model_validate(site_values)
            ).id
            site = session.get(Site, site_id)
            created = True
        else:
            site_id = site.id
            if site.operator_id != operator_id:
                raise InvalidInput(
                    f"The structure {structure.id} is the site {site.id} of another operator",
                    errors=[{"loc": ["siret"], "msg": f"its site belongs to operator {site.operator_id}"}],
                )
            changes = _differences(site, site_values)
            if changes:
                catalogue.update_site(
                    session=session, caller=caller, site_id=site_id, data=SiteUpdate.model_validate(changes)
                )
                updated = True
    if site.data_inclusion_id is None and not _is_own(structure.id, own_source=own_source):
        site.data_inclusion_id = structure.id
        session.add(site)
        session.flush()
    return ("created" if created else "updated" if updated else "unchanged"), operator_id, site_id


def _site_of(*, session: Session, structure: v1.Structure, operator_id: int, own_source: str) -> Site | None:
    """The site a structure is: the one imported under its id, or one of ours it was exported from."""
    site = session.exec(select(Site).where(Site.data_inclusion_id == structure.id)).first()
    if site is not None:
        return site
    prefix = structure_id(source=own_source, site_id=0)[:-1]
    if structure.id.startswith(prefix) and structure.id[len(prefix) :].isdigit():
        return session.get(Site, int(structure.id[len(prefix) :]))
    return None


def _is_own(structure_id_: str, *, own_source: str) -> bool:
    return structure_id_.startswith(f"{own_source}--site-")


def _differences(row: Any, values: dict[str, Any]) -> dict[str, Any]:
    # A field the structure leaves empty leaves ours as it is (an admin may have filled it).
    return {name: value for name, value in values.items() if value is not None and getattr(row, name) != value}


class _fields_named:  # noqa: N801 (a context manager used as a phrase)
    """Our own schemas' refusals (OperatorCreate, SiteCreate…) as the item's problem, each error's
    loc naming the structure's field rather than ours."""

    FIELDS = {"name": "nom", "address": "adresse", "postcode": "code_postal", "email": "courriel"}
    FIELDS |= {"phone": "telephone", "website": "site_web", "insee_code": "code_insee"}

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _traceback) -> bool:
        if isinstance(error, ValidationError):
            errors = [
                {"loc": [self.FIELDS.get(str(part), str(part)) for part in item["loc"]], "msg": item["msg"]}
                for item in validation_errors(error.errors())
            ]
            raise InvalidInput("The catalogue refuses the structure's values", errors=errors) from error
        return False
