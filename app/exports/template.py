"""data·inclusion's publication template (SPEC C12): the XLSX a département uploads to the
data·inclusion *valideur* to publish its offer, written from the data·inclusion export's items
and read back by the import of structures.

The template's layout: one sheet per kind (`Structures`, `Services`), a header row of the
schema's field names, a second row describing each field and marked to be skipped in the
`__ignore__` column, then one row per item; a list is one cell of comma-separated values.
Columns are the template's, in its order (date_maj third, as its example has it); the schema's
fields the template has no column for (source, latitude, longitude) are not written.
"""

import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from app.exports.schemas import ServiceExport, StructureExport

IGNORE = "__ignore__"
STRUCTURES, SERVICES = "Structures", "Services"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# (field, description): the template's columns and what its second row says of each.
STRUCTURE_COLUMNS = (
    ("id", "Un identifiant unique pour cette structure."),
    ("date_maj", "Date de dernière modification de la structure chez le producteur."),
    ("nom", "Chaîne de caractères entre 3 et 150 caractères, ne se terminant pas par un point."),
    ("siret", "Le numéro SIRET de la structure (14 chiffres)."),
    ("description", "Description de la structure."),
    ("adresse", "Adresse de la structure."),
    ("complement_adresse", "Précisions sur l'adresse."),
    ("commune", "Commune de la structure."),
    ("code_postal", "Code postal (5 chiffres)."),
    ("code_insee", "Code INSEE de la commune (5 caractères)."),
    ("telephone", "Coordonnées publiques de la structure."),
    ("courriel", "Coordonnées publiques de la structure."),
    ("lien_source", "Lien vers la structure sur le site web du producteur."),
    ("site_web", "Site web de la structure."),
    ("horaires_accueil", "Horaires d'accueil du public (format OpenStreetMap opening_hours)."),
    ("accessibilite_lieu", "Lien vers la page acceslibre du lieu."),
    ("reseaux_porteurs", "Réseaux, organisations ou administrations portant la structure."),
)
SERVICE_COLUMNS = (
    ("structure_id", "Identifiant unique de la structure rattachée au service."),
    ("id", "Un identifiant unique pour ce service."),
    ("date_maj", "Date de dernière modification du service chez le producteur."),
    ("nom", "Chaîne de caractères entre 3 et 150 caractères, ne se terminant pas par un point."),
    ("description", "Description du service."),
    ("lien_source", "Lien pour accéder à l'offre de service sur le site web du producteur."),
    ("type", "Type de service."),
    ("thematiques", "Thématiques abordées par le service. Choix multiples."),
    ("frais", "Indique si l'accès au service est payant ou gratuit."),
    ("frais_precisions", "Précisions sur les éventuels frais pour accéder au service."),
    ("publics", "Publics visés par le service. Choix multiples."),
    ("publics_precisions", "Précisions sur les publics visés par le service."),
    ("conditions_acces", "Conditions d'accès au service."),
    ("commune", "Commune du lieu du service."),
    ("code_insee", "Code INSEE de la commune."),
    ("code_postal", "Code postal."),
    ("adresse", "Adresse du lieu du service."),
    ("complement_adresse", "Précisions sur l'adresse."),
    ("telephone", "Coordonnées de la personne en charge du service."),
    ("courriel", "Coordonnées de la personne en charge du service."),
    ("modes_accueil", "En présentiel ou à distance."),
    ("zone_eligibilite", "Zone géographique d'éligibilité du service (codes INSEE)."),
    ("contact_nom_prenom", "De la personne en charge du service."),
    ("modes_mobilisation", "Modes de mobilisation de l'offre de service."),
    ("lien_mobilisation", "URL pour accéder ou mobiliser l'offre de service."),
    ("mobilisable_par", "Qui peut mobiliser le service : usagers, professionnels ou les deux."),
    ("mobilisation_precisions", "Précisions sur les modes de mobilisation du service."),
    ("volume_horaire_hebdomadaire", "Durée du service en heures sur une semaine."),
    ("nombre_semaines", "Nombre de semaines sur lequel dure le service."),
    ("horaires_accueil", "Horaires d'accueil du public pour ce service."),
)
# The schema's fields that hold lists (a cell of comma-separated values), and numbers.
LIST_FIELDS = frozenset(
    {"reseaux_porteurs", "thematiques", "publics", "modes_accueil", "zone_eligibilite", "modes_mobilisation"}
    | {"mobilisable_par"}
)
NUMBER_FIELDS = frozenset({"volume_horaire_hebdomadaire", "nombre_semaines", "latitude", "longitude"})
DATE_FIELDS = frozenset({"date_maj"})
HEADER_FONT = Font(bold=True)
DESCRIPTION_FONT = Font(italic=True, color="5B6673")


def to_xlsx(*, structures: Iterable[StructureExport], services: Iterable[ServiceExport]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    _write_sheet(workbook, STRUCTURES, STRUCTURE_COLUMNS, (item.model_dump() for item in structures))
    _write_sheet(workbook, SERVICES, SERVICE_COLUMNS, (item.model_dump() for item in services))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _write_sheet(workbook: Workbook, title: str, columns, items: Iterator[dict[str, Any]]) -> None:
    sheet = workbook.create_sheet(title)
    names = [IGNORE, *(name for name, _ in columns)]
    sheet.append(names)
    sheet.append([True, *(description for _, description in columns)])
    for cell in sheet[1]:
        cell.font = HEADER_FONT
    for cell in sheet[2]:
        cell.font = DESCRIPTION_FONT
    for item in items:
        sheet.append([None, *(_cell(name, item.get(name)) for name, _ in columns)])
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            if isinstance(cell.value, str):
                # Text as text: a name starting with "=" stays a name, never a formula (SPEC C2).
                cell.data_type = "s"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "B3"
    for column, name in zip(sheet.iter_cols(min_row=1, max_row=1), names, strict=True):
        sheet.column_dimensions[column[0].column_letter].width = max(12, min(40, len(name) + 4))


def _cell(name: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list | tuple | set):
        return ", ".join(str(part) for part in value) or None
    if name in NUMBER_FIELDS or name in DATE_FIELDS:
        return value
    return str(value)


# --- reading a template back ---------------------------------------------------------------------


class TemplateError(ValueError):
    """The file is not the template: not an XLSX, or a sheet or its header row missing."""


def read_rows(content: bytes, sheet_name: str) -> list[tuple[int, dict[str, Any]]]:
    """The rows of a sheet as the valideur reads them: (the row's number in the sheet, the header
    row being 1; its fields), rows marked in `__ignore__` and empty rows skipped, empty cells left
    out, lists split on commas, numbers typed in text fields (a SIRET, a postcode) given back as
    the digits typed, date cells as dates. Columns with no field name are not read; a name given
    twice is read from its first column."""
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException…
        raise TemplateError("the file is not an XLSX workbook") from exc
    try:
        if sheet_name not in workbook.sheetnames:
            raise TemplateError(f"the workbook has no sheet named {sheet_name!r}")
        rows = workbook[sheet_name].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise TemplateError(f"the sheet {sheet_name!r} has no header row")
        columns: dict[str, int] = {}
        for index, name in enumerate(header):
            if isinstance(name, str) and name.strip() and name.strip() not in columns:
                columns[name.strip()] = index
        ignore = columns.pop(IGNORE, None)
        result = []
        for number, values in enumerate(rows, start=2):
            if ignore is not None and ignore < len(values) and _marked(values[ignore]):
                continue
            fields = {}
            for name, index in columns.items():
                value = _read(name, values[index] if index < len(values) else None)
                if value is not None:
                    fields[name] = value
            if fields:
                result.append((number, fields))
        return result
    finally:
        workbook.close()


def _marked(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "vrai", "x", "oui", "1")
    return bool(value)


def _read(name: str, value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date() if name in DATE_FIELDS or (value.hour, value.minute, value.second) == (0, 0, 0) else value
    if name in LIST_FIELDS:
        return [part.strip() for part in str(value).split(",") if part.strip()]
    if name in NUMBER_FIELDS:
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value
