"""The bilan in each of its formats: JSON (the schema), CSV, XLSX, Markdown, HTML and PDF, each
built from one run of the engine (the charts' figures asked with the tables')."""

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sqlmodel import Session

from app.core.errors import InvalidInput
from app.indicators.bilan import formats, html, pdf, xlsx
from app.indicators.bilan.build import build_bilan, build_bilan_with_charts
from app.indicators.bilan.formats import CsvDialect
from app.indicators.schemas import BilanRead

CSV_MEDIA_TYPE = "text/csv"


class BilanFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    md = "md"
    html = "html"
    pdf = "pdf"


@dataclass(frozen=True)
class BilanFile:
    content: bytes | str
    media_type: str
    filename: str
    inline: bool = False  # a page to read in the browser (which may still save it), not a download
    headers: dict[str, str] = field(default_factory=dict)

    def response_headers(self) -> dict[str, str]:
        disposition = "inline" if self.inline else "attachment"
        return {**self.headers, "Content-Disposition": f'{disposition}; filename="{self.filename}"'}


def render_bilan(
    *,
    session: Session,
    years: list[int],
    as_of: date | None,
    action: str | None,
    format_: BilanFormat,
    dialect: CsvDialect | None = None,
    departement: str = "Sarthe",
    min_size: int = 0,
    own_operator_id: int | None = None,
) -> BilanRead | BilanFile:
    """The bilan as JSON (its schema) or as a file of `format_`; `min_size`: statistical secrecy's
    threshold for the caller (app/indicators/secrecy.py), not applied to the actions whose every
    convention is `own_operator_id`'s."""
    if dialect is not None and format_ != BilanFormat.csv:
        raise InvalidInput("`dialect` applies to format=csv only", loc=["query", "dialect"])
    if format_ in (BilanFormat.json, BilanFormat.csv, BilanFormat.md):
        bilan = build_bilan(
            session=session, years=years, as_of=as_of, action=action, min_size=min_size, own_operator_id=own_operator_id
        )
        if format_ == BilanFormat.json:
            return bilan
        if format_ == BilanFormat.csv:
            content = formats.to_csv(bilan, dialect or CsvDialect.rfc4180)
            return BilanFile(content, f"{CSV_MEDIA_TYPE}; charset=utf-8", formats.filename(bilan, "csv"))
        content = formats.to_markdown(bilan)
        return BilanFile(content, "text/markdown; charset=utf-8", formats.filename(bilan, "md"))
    bilan, charts = build_bilan_with_charts(
        session=session, years=years, as_of=as_of, action=action, min_size=min_size, own_operator_id=own_operator_id
    )
    if format_ == BilanFormat.xlsx:
        content = xlsx.to_xlsx(bilan, charts)
        return BilanFile(content, xlsx.XLSX_MEDIA_TYPE, formats.filename(bilan, "xlsx"))
    if format_ == BilanFormat.pdf:
        content = pdf.to_pdf(bilan, charts, departement=departement)
        return BilanFile(content, pdf.PDF_MEDIA_TYPE, formats.filename(bilan, "pdf"))
    return BilanFile(
        html.to_html(bilan, charts),
        "text/html; charset=utf-8",
        formats.filename(bilan, "html"),
        inline=True,
        headers={"Content-Security-Policy": html.CONTENT_SECURITY_POLICY},
    )
