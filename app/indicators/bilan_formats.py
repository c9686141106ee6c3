"""The bilan as CSV (for scripts), XLSX (for people) and Markdown (like the source document)."""

import csv
import io
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from app.indicators.schemas import BilanRead
from app.reference.indicators import INDICATORS_BY_CODE, Unit

TITLE = "Bilan des actions du Programme Départemental d'Insertion"
NOT_KNOWN = "NC"
FRENCH_MONTHS = ("Janv", "Févr", "Mars", "Avr", "Mai", "Juin", "Juil", "Août", "Sept", "Oct", "Nov", "Déc")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_NUMBER_FORMATS = {Unit.rate: "0%", Unit.euros: "#,##0 €", Unit.count: "#,##0", Unit.days: "0.0"}


def filename(bilan: BilanRead, extension: str) -> str:
    return f"bilan-pdi-{'-'.join(map(str, bilan.years))}.{extension}"


def year_heading(bilan: BilanRead, year: int) -> str:
    """`2019`, or `Déc 2020 (non consolidé)` (the month of the figures' last day) as the document
    heads a year whose figures are not final."""
    if bilan.consolidated.get(str(year)):
        return str(year)
    last_day = min(date(year, 12, 31), bilan.as_of)
    return f"{FRENCH_MONTHS[last_day.month - 1]} {year} (non consolidé)"


def _unit(code: str) -> Unit:
    indicator = INDICATORS_BY_CODE.get(code)
    return indicator.unit if indicator else Unit.count


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def _rounded(value: float, places: str) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def french(value: int | float | None, unit: Unit) -> str:
    """A value as the document prints it: `85%`, `69 000 €`, `1 858`, NC when unknown."""
    if value is None:
        return NOT_KNOWN
    if unit == Unit.rate:
        return f"{_rounded(value * 100, '1')}%"
    if unit == Unit.euros:
        cents = _rounded(value, "0.01")
        whole = int(cents)
        if cents == whole:
            return f"{_thousands(whole)} €"
        return f"{_thousands(whole)},{int((cents - whole) * 100):02d} €"
    if unit == Unit.days:
        return str(_rounded(value, "0.1")).replace(".", ",")
    return _thousands(int(value))


def to_csv(bilan: BilanRead) -> str:
    """One row per action × indicator; raw values (rates as fractions), empty when unknown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["family", "action_number", "action", "indicator", "label", *map(str, bilan.years)])
    for family in bilan.families:
        for action in family.actions:
            for row in action.table:
                values = [row.values.get(str(year)) for year in bilan.years]
                writer.writerow(
                    [
                        family.name,
                        action.number,
                        action.name,
                        row.indicator,
                        row.label,
                        *("" if value is None else value for value in values),
                    ]
                )
    return out.getvalue()


def to_markdown(bilan: BilanRead) -> str:
    lines = [f"# {TITLE} {'/'.join(map(str, bilan.years))}", "", f"Indicateurs au {bilan.as_of:%d/%m/%Y}.", ""]
    headings = [year_heading(bilan, year) for year in bilan.years]
    for family in bilan.families:
        lines += [f"## {family.name}", ""]
        for action in family.actions:
            lines += [f"### {action.number}. {action.name}", ""]
            if action.description:
                lines += [action.description, ""]
            if action.operators:
                concerned = "Opérateur concerné" if len(action.operators) == 1 else "Opérateurs concernés"
                lines += [f"- {concerned} : {', '.join(action.operators)}", ""]
            if action.table:
                lines.append("| " + " | ".join(["Indicateurs", *headings]) + " |")
                lines.append("| --- |" + " ---: |" * len(headings))
                for row in action.table:
                    cells = [french(row.values.get(str(year)), _unit(row.indicator)) for year in bilan.years]
                    lines.append("| " + " | ".join([_cell(row.label), *cells]) + " |")
                lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_xlsx(bilan: BilanRead) -> bytes:
    """One sheet laid out like the document: a title, per family a heading, per action a heading,
    its operators and its indicators; one column per year; NC where a figure is unknown."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Bilan PDI"
    bold = Font(bold=True)
    family_fill = PatternFill("solid", fgColor="DDEBF7")
    header_fill = PatternFill("solid", fgColor="D9D9D9")
    right = Alignment(horizontal="right")

    sheet.append([f"{TITLE} {'/'.join(map(str, bilan.years))}"])
    sheet.cell(row=1, column=1).font = Font(bold=True, size=14)
    sheet.append([f"Indicateurs au {bilan.as_of:%d/%m/%Y}"])
    sheet.cell(row=2, column=1).font = Font(italic=True)
    sheet.append([])
    sheet.append(["Indicateurs", *(year_heading(bilan, year) for year in bilan.years)])
    header_row = sheet.max_row
    for column in range(1, len(bilan.years) + 2):
        cell = sheet.cell(row=header_row, column=column)
        cell.font, cell.fill = bold, header_fill
        cell.alignment = Alignment(horizontal="center" if column > 1 else "left", wrap_text=True)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=2)

    for family in bilan.families:
        sheet.append([family.name])
        for column in range(1, len(bilan.years) + 2):
            cell = sheet.cell(row=sheet.max_row, column=column)
            cell.fill = family_fill
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True, size=12)
        for action in family.actions:
            sheet.append([f"{action.number}. {action.name}"])
            sheet.cell(row=sheet.max_row, column=1).font = bold
            if action.operators:
                sheet.append([f"Opérateurs : {', '.join(action.operators)}"])
                sheet.cell(row=sheet.max_row, column=1).font = Font(italic=True)
            for row in action.table:
                sheet.append([row.label])
                unit = _unit(row.indicator)
                for offset, year in enumerate(bilan.years, start=2):
                    value = row.values.get(str(year))
                    cell = sheet.cell(row=sheet.max_row, column=offset)
                    if value is None:
                        cell.value = NOT_KNOWN
                        cell.alignment = right
                    else:
                        cell.value = value
                        cell.number_format = XLSX_NUMBER_FORMATS[unit]
        sheet.append([])

    sheet.column_dimensions["A"].width = 72
    for column in range(2, len(bilan.years) + 2):
        sheet.column_dimensions[get_column_letter(column)].width = 26
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
