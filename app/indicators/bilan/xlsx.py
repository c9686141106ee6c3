"""The bilan as a workbook a département can hand out: a summary sheet with native charts, then
one sheet per family with its actions' table and descriptions.

Every figure is a number with a number format (percent, euros), every year a number; unknown
figures are `NC`. Stored text goes through `inert`, and no cell holds a formula.
"""

import io
import math
import re

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.text import RichText
from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties, RichTextProperties
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from app.indicators import secrecy
from app.indicators.bilan.charts import PART_COLOURS, SERIES_COLOURS, BilanCharts, Chart
from app.indicators.bilan.formats import (
    NOT_KNOWN,
    assessment_heading,
    bilan_title,
    consolidation_note,
    inert,
    is_secret,
    unit_of,
)
from app.indicators.schemas import BilanFamilyRead, BilanRead
from app.reference.indicators import Unit

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NUMBER_FORMATS = {Unit.rate: "0%", Unit.euros: '#,##0 "€"', Unit.count: "#,##0", Unit.days: "0.0", Unit.hours: "0.0"}
SUMMARY_SHEET = "Synthèse"

BOLD = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
SECTION_FONT = Font(bold=True, size=12)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
WRAP = Alignment(wrap_text=True, vertical="top")
RIGHT = Alignment(horizontal="right")

# Family sheets: N° | Action | Indicateur | one column per year.
FAMILY_COLUMN_WIDTHS = (6, 30, 48)
YEAR_COLUMN_WIDTH = 14
FAMILY_STATE_ROW, FAMILY_HEADER_ROW = 3, 4
ROW_HEIGHT_CM = 0.53  # a default row (15 points)
POINTS_PER_LINE = 15
SUMMARY_LABEL_WIDTH = 40
SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")  # and control characters


def to_xlsx(bilan: BilanRead, charts: BilanCharts) -> bytes:
    workbook = Workbook()
    _set_properties(workbook, bilan)
    used_titles = {SUMMARY_SHEET.lower()}
    _write_summary(workbook.active, bilan, charts)
    for family in bilan.families:
        sheet = workbook.create_sheet(_sheet_title(family.name, used_titles))
        _write_family(sheet, bilan, family)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _set_properties(workbook: Workbook, bilan: BilanRead) -> None:
    years = "/".join(map(str, bilan.years))
    properties = workbook.properties
    properties.title = f"{bilan_title()} {years}"
    properties.subject = f"Indicateurs au {bilan.as_of:%d/%m/%Y}"
    properties.description = f"{consolidation_note(bilan)} (as_of {bilan.as_of.isoformat()})"
    properties.keywords = f"PDI, bilan, {years}, as_of={bilan.as_of.isoformat()}"
    properties.creator = "Catalogue PDI"
    properties.language = "fr-FR"


def _sheet_title(name: str, used: set[str]) -> str:
    """A family's name as Excel accepts a sheet title: none of []:*?/\\ nor control characters,
    no `'` at either end, 31 characters at most, unique regardless of case."""
    base = SHEET_TITLE_FORBIDDEN.sub(" ", name).strip().strip("'").strip()[:31] or "Famille"
    title, number = base, 2
    while title.lower() in used:
        suffix = f" ({number})"
        title, number = base[: 31 - len(suffix)] + suffix, number + 1
    used.add(title.lower())
    return title


def _print_setup(sheet: Worksheet, *, title_rows: str | None = None, pages_down: int = 0) -> None:
    """Landscape A4, as wide as one page; `pages_down` pages high (0: as many as needed)."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = pages_down
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    if title_rows:
        sheet.print_title_rows = title_rows


def _write_value(cell, value, unit: Unit, secret: bool = False) -> None:
    if secret:
        cell.value = secrecy.MARK  # explained under the sheet's title (consolidation_note)
        cell.alignment = RIGHT
    elif value is None:
        cell.value = NOT_KNOWN
        cell.alignment = RIGHT
    else:
        cell.value = value
        cell.number_format = NUMBER_FORMATS[unit]


# --- Summary sheet --------------------------------------------------------------------------


def _write_summary(sheet: Worksheet, bilan: BilanRead, charts: BilanCharts) -> None:
    sheet.title = SUMMARY_SHEET
    sheet["A1"] = f"{bilan_title()} {'/'.join(map(str, bilan.years))}"
    sheet["A1"].font = TITLE_FONT
    sheet["A2"] = consolidation_note(bilan)
    sheet["A2"].font = Font(italic=True)
    widest = max(len(chart.series) for chart in charts.all())
    sheet.column_dimensions["A"].width = SUMMARY_LABEL_WIDTH
    for column in range(2, widest + 2):
        sheet.column_dimensions[get_column_letter(column)].width = 16
    chart_column = get_column_letter(widest + 3)

    row = 4
    for chart in charts.all():
        native = _native_chart(chart)
        heading_row = row
        sheet.cell(row=heading_row, column=1, value=chart.title).font = SECTION_FONT
        last_row = _write_chart_table(sheet, chart, header_row=heading_row + 1)
        data_end = max(last_row, heading_row + 2)  # a chart without categories still spans one (empty) row
        data = Reference(sheet, min_col=2, max_col=len(chart.series) + 1, min_row=heading_row + 1, max_row=data_end)
        categories = Reference(sheet, min_col=1, min_row=heading_row + 2, max_row=data_end)
        native.add_data(data, titles_from_data=True)
        native.set_categories(categories)
        palette = PART_COLOURS if chart.stacked else SERIES_COLOURS
        for position, series in enumerate(native.series):
            series.graphicalProperties.solidFill = palette[position % len(palette)].lstrip("#")
        sheet.add_chart(native, f"{chart_column}{heading_row}")
        chart_rows = math.ceil(native.height / ROW_HEIGHT_CM)
        row = max(last_row, heading_row + chart_rows) + 2
    _print_setup(sheet, pages_down=1)  # a summary reads best on one page


def _write_chart_table(sheet: Worksheet, chart: Chart, *, header_row: int) -> int:
    """The chart's figures as a small table (categories down, series across); its last row."""
    header = [chart.category_title, *(series.name for series in chart.series)]
    for column, value in enumerate(header, start=1):
        cell = sheet.cell(row=header_row, column=column, value=inert(value) if isinstance(value, str) else value)
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, horizontal="left" if column == 1 else "right")
    row = header_row
    for index, category in enumerate(chart.categories):
        row = header_row + 1 + index
        cell = sheet.cell(row=row, column=1, value=inert(category) if isinstance(category, str) else category)
        cell.alignment = WRAP
        for column, series in enumerate(chart.series, start=2):
            _write_value(sheet.cell(row=row, column=column), series.values[index], chart.unit)
        _fit_height(sheet, row, [(str(category), SUMMARY_LABEL_WIDTH)])
    return row


def _native_chart(chart: Chart) -> BarChart:
    """Columns of each series side by side (or stacked), one group per category, the years left
    to right as in the tables. Every chart stands: spreadsheets list a horizontal bar chart's
    legend bottom-up (2020 · 2019 · 2018), against its table; the occupancy chart, whose
    categories are long action names, is made wider instead, and its labels wrap."""
    native = BarChart()
    wide = chart.unit == Unit.rate
    native.type = "col"
    native.title = chart.title
    native.style = 10
    if chart.stacked:
        native.grouping, native.overlap = "stacked", 100
    native.y_axis.number_format = NUMBER_FORMATS[chart.unit]
    # openpyxl 3.1 writes axes as deleted unless told otherwise: Excel would show none.
    native.x_axis.delete = False
    native.y_axis.delete = False
    native.legend.position = "b"
    native.width = max(20.0, min(40.0, 2.6 * len(chart.categories))) if wide else 20
    native.height = 12 if wide else 9
    if wide:  # long names: wrapped under their columns, not turned aslant over the plot
        native.x_axis.txPr = RichText(
            bodyPr=RichTextProperties(rot=0, vert="horz"),
            p=[
                Paragraph(pPr=ParagraphProperties(defRPr=CharacterProperties(sz=800)), endParaRPr=CharacterProperties())
            ],
        )
    return native


# --- Family sheets --------------------------------------------------------------------------


def _write_family(sheet: Worksheet, bilan: BilanRead, family: BilanFamilyRead) -> None:
    """The family's name, then one table of all its actions' indicators (autofilter on it,
    header repeated on every printed page), then each action's description and operators."""
    last_column = len(FAMILY_COLUMN_WIDTHS) + len(bilan.years)
    for column, width in enumerate(FAMILY_COLUMN_WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    for column in range(len(FAMILY_COLUMN_WIDTHS) + 1, last_column + 1):
        sheet.column_dimensions[get_column_letter(column)].width = YEAR_COLUMN_WIDTH

    sheet["A1"] = inert(family.name)
    sheet["A1"].font = TITLE_FONT
    sheet["A2"] = consolidation_note(bilan)
    sheet["A2"].font = Font(italic=True)

    first_year_column = len(FAMILY_COLUMN_WIDTHS) + 1
    sheet.cell(row=FAMILY_STATE_ROW, column=first_year_column - 1, value="État des chiffres").alignment = RIGHT
    for column, year in enumerate(bilan.years, start=first_year_column):
        state = "consolidé" if bilan.consolidated.get(str(year)) else "non consolidé"
        sheet.cell(row=FAMILY_STATE_ROW, column=column, value=state).alignment = RIGHT
    for column, value in enumerate(["N°", "Action", "Indicateur", *bilan.years], start=1):
        cell = sheet.cell(row=FAMILY_HEADER_ROW, column=column, value=value)
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, horizontal="left" if column < first_year_column else "right")
        if column >= first_year_column:
            cell.number_format = "0"  # 2020, not 2 020

    row = FAMILY_HEADER_ROW
    for action in family.actions:
        for table_row in action.table:
            row += 1
            sheet.cell(row=row, column=1, value=action.number)
            sheet.cell(row=row, column=2, value=inert(action.name)).alignment = WRAP
            sheet.cell(row=row, column=3, value=inert(table_row.label)).alignment = WRAP
            for column, year in enumerate(bilan.years, start=first_year_column):
                _write_value(
                    sheet.cell(row=row, column=column),
                    table_row.values.get(str(year)),
                    unit_of(table_row.indicator),
                    is_secret(table_row, year),
                )
            # Wrapped text does not grow its row by itself (a spreadsheet sizes rows when it
            # edits them, not when it opens a file): a long name would overprint the next row.
            _fit_height(
                sheet, row, [(action.name, FAMILY_COLUMN_WIDTHS[1]), (table_row.label, FAMILY_COLUMN_WIDTHS[2])]
            )
    last_column_letter = get_column_letter(last_column)
    sheet.auto_filter.ref = f"A{FAMILY_HEADER_ROW}:{last_column_letter}{max(row, FAMILY_HEADER_ROW + 1)}"
    sheet.freeze_panes = sheet.cell(row=FAMILY_HEADER_ROW + 1, column=first_year_column)

    row += 2
    sheet.cell(row=row, column=1, value="Les actions").font = SECTION_FONT
    text_width = sum(FAMILY_COLUMN_WIDTHS[1:]) + YEAR_COLUMN_WIDTH * len(bilan.years)
    for action in family.actions:
        row += 2
        sheet.cell(row=row, column=1, value=action.number).font = BOLD
        sheet.cell(row=row, column=2, value=inert(action.name)).font = BOLD
        texts = []
        if action.description:
            texts.append(action.description)
        if action.operators:
            concerned = "Opérateur concerné" if len(action.operators) == 1 else "Opérateurs concernés"
            texts.append(f"{concerned} : {', '.join(inert(name) for name in action.operators)}")
        for text in texts:
            row += 1
            # Merged cells never grow to fit their text: the row is given the height it needs.
            sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=last_column)
            cell = sheet.cell(row=row, column=2, value=inert(text))
            cell.alignment = WRAP
            sheet.row_dimensions[row].height = POINTS_PER_LINE * _wrapped_lines(text, text_width)
        if action.assessment is not None:
            row += 1
            sheet.cell(row=row, column=2, value=assessment_heading(action.assessment.year)).font = BOLD
            for point in action.assessment.points:
                row += 1
                sheet.cell(row=row, column=1, value="•").alignment = Alignment(horizontal="right", vertical="top")
                sheet.merge_cells(start_row=row, start_column=2, end_row=row, end_column=last_column)
                cell = sheet.cell(row=row, column=2, value=inert(point))
                cell.alignment = WRAP
                sheet.row_dimensions[row].height = POINTS_PER_LINE * _wrapped_lines(point, text_width)
    _print_setup(sheet, title_rows=f"{FAMILY_STATE_ROW}:{FAMILY_HEADER_ROW}")


def _fit_height(sheet: Worksheet, row: int, texts: list[tuple[str, int]]) -> None:
    """Give `row` the height of its tallest wrapped text (each with its column's width), and top-
    align its cells so that figures stay level with the first line; rows of one line keep the
    default height."""
    lines = max(_word_wrapped_lines(text, width) for text, width in texts)
    if lines > 1:
        sheet.row_dimensions[row].height = POINTS_PER_LINE * lines
        for cell in sheet[row]:
            alignment = cell.alignment
            cell.alignment = Alignment(horizontal=alignment.horizontal, vertical="top", wrap_text=alignment.wrap_text)


def _word_wrapped_lines(text: str, width: int) -> int:
    """The lines a short text (a name, a label) takes wrapped at spaces in a column `width` wide.
    A width unit is a digit's width; narrow letters count about half of one, capitals and m/w a
    little more (an estimate, on the generous side: a row a line too tall is blank space, a row
    a line too short overprints the next)."""
    lines, used = 1, 0.0
    for word in text.split():
        needed = _text_width(word) if used == 0 else used + _text_width(" " + word)
        if needed <= width or used == 0:
            used = needed
        else:
            lines, used = lines + 1, _text_width(word)
    return lines


NARROW_LETTERS = frozenset("iljtfr'.,;:!|() ")


def _text_width(text: str) -> float:
    return sum(
        0.55 if letter in NARROW_LETTERS else 1.3 if letter.isupper() or letter in "mw" else 1.0 for letter in text
    )


def _wrapped_lines(text: str, width: int) -> int:
    """About how many lines `text` takes in a cell `width` characters wide (a little generous:
    proportional letters are narrower than the width unit on average, capitals wider)."""
    return sum(max(1, math.ceil(len(paragraph) * 1.1 / width)) for paragraph in text.splitlines()) or 1
