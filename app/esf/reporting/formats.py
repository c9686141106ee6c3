"""The ESF+ report as CSV (the bilan's two dialects) and as a workbook.

CSV: one line per convention (then the total) × indicator, with the counts by sex and in total,
and the block's `incomplete` on every line so that each line stands alone for a script.
"""

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from app.indicators.bilan.formats import UTF8_BOM, CsvDialect, inert
from app.indicators.secrecy import MARK

COLUMNS = (
    "year",
    "convention_id",
    "reference",
    "action",
    "incomplete",
    "indicator",
    "code",
    "label",
    "F",
    "M",
    "X",
    "total",
)
TOTAL = "TOTAL"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _lines(report: dict[str, Any]):
    blocks = [(block["convention_id"], block["reference"], block["action"], block) for block in report["conventions"]]
    blocks.append((None, TOTAL, None, report["total"]))
    for convention_id, reference, action, block in blocks:
        incomplete = MARK if "incomplete" in block.get("suppressed", ()) else block["incomplete"]
        for row in block["rows"]:
            values, withheld = row["values"], row.get("suppressed", ())
            yield [
                report["year"],
                convention_id,
                inert(reference),
                action,
                incomplete,
                row["indicator"],
                row["code"],
                row["label"],
                *(MARK if cell in withheld else values[cell] for cell in ("F", "M", "X", "total")),
            ]


def to_csv(report: dict[str, Any], dialect: CsvDialect = CsvDialect.rfc4180) -> str:
    out = io.StringIO()
    if dialect == CsvDialect.excel_fr:
        out.write(UTF8_BOM)
    writer = csv.writer(out, delimiter=";" if dialect == CsvDialect.excel_fr else ",", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in _lines(report):
        writer.writerow(["" if cell is None else cell for cell in line])
    return out.getvalue()


def to_xlsx(report: dict[str, Any]) -> bytes:
    """One sheet: the same table as the CSV, counts as numbers, a frozen header and filters."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = f"FSE {report['year']}"
    workbook.properties.title = f"Indicateurs FSE+ {report['year']}"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
    for line in _lines(report):
        sheet.append(line)
    for column, width in zip("ABCDEFGHIJKL", (6, 12, 18, 20, 11, 28, 9, 60, 6, 6, 6, 8)):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=2, min_col=8, max_col=8):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
