"""The bilan as CSV (for scripts and spreadsheets) and Markdown (like the source document), and
what every export format shares: French number formatting, year headings, inert text.

XLSX is in xlsx.py, HTML in html.py, the summary charts' figures in charts.py.
"""

import csv
import io
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from app.core.config import get_settings
from app.core.text import printable
from app.indicators import secrecy
from app.indicators.schemas import BilanRead, BilanTableRowRead
from app.reference.indicators import INDICATORS_BY_CODE, Unit

PROGRAMME_TITLE = "Bilan des actions du Programme Départemental d'Insertion"


def bilan_title() -> str:
    """The title, with the département's name (PDI_DEPARTEMENT_NAME)."""
    return f"{get_settings().departement_name} — {PROGRAMME_TITLE}"


NOT_KNOWN = "NC"
FRENCH_MONTHS = ("Janv", "Févr", "Mars", "Avr", "Mai", "Juin", "Juil", "Août", "Sept", "Oct", "Nov", "Déc")

# A spreadsheet reads a cell starting with one of these as a formula (or, for tab and CR, may
# drop them and read what follows as one): stored text that starts so is exported with a `'`
# in front (SPEC C2, "Exports are inert").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# Decimal places kept in CSV: enough for a machine, no float noise such as 0.8500059559261465.
CSV_PLACES = {Unit.rate: 4, Unit.euros: 2, Unit.days: 2, Unit.hours: 2, Unit.count: 0}
UTF8_BOM = "\ufeff"


class CsvDialect(StrEnum):
    rfc4180 = "rfc4180"  # `,` between cells, `.` in numbers: for scripts
    excel_fr = "excel-fr"  # `;`, decimal commas and a BOM: what French Excel opens as columns


def inert(text: str) -> str:
    """Stored text as an export may hold it: `'=1+1`, never a formula, and no control character
    (XLSX cannot hold one: openpyxl refuses BEL or ESC)."""
    text = printable(text)
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


def inert_lines(text: str) -> str:
    """Multi-line stored text (a description) where no line can start a formula."""
    return "\n".join(inert(line) for line in text.splitlines())


def inert_line(text: str) -> str:
    """Stored text on one line (a heading, a table cell): its line breaks become spaces."""
    return inert(" ".join(text.splitlines()))


def filename(bilan: BilanRead, extension: str) -> str:
    return f"bilan-pdi-{'-'.join(map(str, bilan.years))}.{extension}"


def year_heading(bilan: BilanRead, year: int) -> str:
    """`2019`, or `Déc 2020 (non consolidé)` (the month of the figures' last day) as the document
    heads a year whose figures are not final."""
    if bilan.consolidated.get(str(year)):
        return str(year)
    last_day = min(date(year, 12, 31), bilan.as_of)
    return f"{FRENCH_MONTHS[last_day.month - 1]} {year} (non consolidé)"


def consolidation_note(bilan: BilanRead) -> str:
    """`Indicateurs au 30/06/2020 ; 2019 consolidé, 2020 non consolidé.`, and the note on the
    withheld cells when there are any (every format but CSV shows it under its title)."""
    states = [f"{year} {'consolidé' if bilan.consolidated.get(str(year)) else 'non consolidé'}" for year in bilan.years]
    text = f"Indicateurs au {bilan.as_of:%d/%m/%Y} ; {', '.join(states)}."
    if has_secret(bilan):
        text += f" {secrecy.note(get_settings().min_cell_size)}."
    return text


def has_secret(bilan: BilanRead) -> bool:
    return any(row.suppressed for family in bilan.families for action in family.actions for row in action.table)


def is_secret(row: BilanTableRowRead, year: int | str) -> bool:
    """Whether the cell of `row` in `year` is withheld (statistical secrecy), not unknown."""
    return str(year) in row.suppressed


ASSESSMENT_HEADING = "Bilan qualitatif"


def assessment_heading(year: int) -> str:
    """`Bilan qualitatif 2020`: the year says which year's points these are (the latest asked)."""
    return f"{ASSESSMENT_HEADING} {year}"


def unit_of(code: str) -> Unit:
    indicator = INDICATORS_BY_CODE.get(code)
    return indicator.unit if indicator else Unit.count


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", " ")


def _rounded(value: float, places: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def french(value: int | float | None, unit: Unit) -> str:
    """A value as the document prints it: `85%`, `69 000 €`, `1 858`, NC when unknown."""
    if value is None:
        return NOT_KNOWN
    if unit == Unit.rate:
        return f"{_rounded(value * 100, 0)}%"
    if unit == Unit.euros:
        cents = _rounded(value, 2)
        whole = int(cents)
        if cents == whole:
            return f"{_thousands(whole)} €"
        return f"{_thousands(whole)},{int((cents - whole) * 100):02d} €"
    if unit == Unit.days:
        return str(_rounded(value, 1)).replace(".", ",")
    return _thousands(int(value))


def csv_number(value: int | float | None, unit: Unit, dialect: CsvDialect = CsvDialect.rfc4180) -> str:
    """Rounded to the unit's places, without trailing zeros, so that 450000.0 prints `450000`;
    `0,8500` style decimal commas for excel-fr; empty when unknown."""
    if value is None:
        return ""
    text = format(_rounded(value, CSV_PLACES[unit]).normalize(), "f")
    return text.replace(".", ",") if dialect == CsvDialect.excel_fr else text


def to_csv(bilan: BilanRead, dialect: CsvDialect = CsvDialect.rfc4180) -> str:
    """One row per action × indicator, one column per year; then `as_of` and each year's
    consolidated state, repeated on every row so that each row stands alone for a script.

    The bilan qualitatif is not in it: its points are text, not figures by year, and a column
    of them repeated on every row would break the one-row-one-figure shape scripts rely on
    (JSON, Markdown, HTML and XLSX carry them)."""
    out = io.StringIO()
    if dialect == CsvDialect.excel_fr:
        out.write(UTF8_BOM)
    writer = csv.writer(out, delimiter=";" if dialect == CsvDialect.excel_fr else ",", lineterminator="\r\n")
    years = [str(year) for year in bilan.years]
    writer.writerow(
        [
            "family",
            "action_number",
            "action",
            "indicator",
            "label",
            *years,
            "as_of",
            *(f"consolidated_{year}" for year in years),
        ]
    )
    states = ["true" if bilan.consolidated.get(year) else "false" for year in years]
    for family in bilan.families:
        for action in family.actions:
            for row in action.table:
                unit = unit_of(row.indicator)
                writer.writerow(
                    [
                        inert(family.name),
                        action.number,
                        inert(action.name),
                        row.indicator,
                        inert(row.label),
                        *(
                            secrecy.MARK if is_secret(row, year) else csv_number(row.values.get(year), unit, dialect)
                            for year in years
                        ),
                        bilan.as_of.isoformat(),
                        *states,
                    ]
                )
    return out.getvalue()


def to_markdown(bilan: BilanRead) -> str:
    lines = [f"# {bilan_title()} {'/'.join(map(str, bilan.years))}", "", consolidation_note(bilan), ""]
    headings = [year_heading(bilan, year) for year in bilan.years]
    for family in bilan.families:
        lines += [f"## {inert_line(family.name)}", ""]
        for action in family.actions:
            lines += [f"### {action.number}. {inert_line(action.name)}", ""]
            if action.description:
                lines += [inert_lines(action.description), ""]
            if action.operators:
                concerned = "Opérateur concerné" if len(action.operators) == 1 else "Opérateurs concernés"
                lines += [f"- {concerned} : {', '.join(inert_line(name) for name in action.operators)}", ""]
            if action.table:
                lines.append("| " + " | ".join(["Indicateurs", *headings]) + " |")
                lines.append("| --- |" + " ---: |" * len(headings))
                for row in action.table:
                    cells = [
                        secrecy.MARK
                        if is_secret(row, year)
                        else french(row.values.get(str(year)), unit_of(row.indicator))
                        for year in bilan.years
                    ]
                    lines.append("| " + " | ".join([_cell(row.label), *cells]) + " |")
                lines.append("")
            if action.assessment is not None:
                lines += [f"#### {assessment_heading(action.assessment.year)}", ""]
                lines += [f"- {inert_line(point)}" for point in action.assessment.points]
                lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Stored text inside a Markdown table cell: one line, pipes escaped."""
    return inert_line(text).replace("|", "\\|")
