"""POST /exit-records: operators' batches of exits, as a JSON list or as CSV.

Each item is recorded in its own SAVEPOINT, so a bad item never blocks the good ones; with
`atomic=true` any bad item means nothing is stored (422 carrying every item's result). The
body is read in chunks and refused (413) as soon as it passes `max_batch_bytes`, whatever
Content-Length claims.
"""

import codecs
import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.auth.service import Caller
from app.core.config import get_settings
from app.core.errors import (
    AppError,
    Conflict,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
    problem,
    validation_errors,
)
from app.pathways import access, service
from app.pathways.schemas import (
    EXIT_RECORD_COLUMNS,
    ExitIn,
    ExitRecordCounts,
    ExitRecordIn,
    ExitRecordResult,
    ExitRecordsAnswer,
)

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
POSTGRES_DEADLOCK = "40P01"
# CSV rows that have more cells than the header: kept under this name so the item fails cleanly.
EXTRA_CELLS = "extra_cells"


class MalformedBody(AppError):
    status = 400
    title = "Malformed body"
    slug = "malformed-body"


class BatchRejected(InvalidInput):
    """An all-or-nothing batch with a bad item: nothing stored, every item's result returned."""

    def __init__(self, answer: ExitRecordsAnswer):
        super().__init__(f"{answer.counts.error} item(s) in error: with atomic=true nothing was stored")
        self.answer = answer

    def to_problem(self) -> dict[str, Any]:
        return super().to_problem() | self.answer.model_dump(mode="json")


@dataclass(frozen=True)
class Batch:
    media_type: str
    charset: str | None
    body: bytes


async def read_batch(request: Request) -> Batch:
    """The raw body of a batch: 415 for another content type, 413 past the size limit."""
    content_type = request.headers.get("content-type", "")
    media_type, _, parameters = content_type.partition(";")
    media_type = media_type.strip().lower()
    if media_type not in (JSON_TYPE, CSV_TYPE):
        raise UnsupportedMediaType(f"Send the batch as {JSON_TYPE} (a list) or {CSV_TYPE}")
    charset = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    limit = get_settings().max_batch_bytes
    too_large = PayloadTooLarge(f"A batch body may not exceed {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return Batch(media_type=media_type, charset=charset, body=b"".join(chunks))


def _too_many() -> PayloadTooLarge:
    return PayloadTooLarge(f"A batch may hold at most {get_settings().max_batch_items} items")


def parse_items(batch: Batch) -> list[Any]:
    """The batch's items, not yet validated: a JSON list, or CSV rows as dicts of their non-empty cells."""
    if batch.media_type == JSON_TYPE:
        items = _parse_json(batch.body)
    else:
        items = _parse_csv(batch.body, batch.charset)
    if len(items) > get_settings().max_batch_items:
        raise _too_many()
    return items


def _parse_json(body: bytes) -> list[Any]:
    try:
        items = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedBody("The body is not valid JSON") from exc
    if not isinstance(items, list):
        raise InvalidInput("The body must be a JSON list of exit records", loc=["body"])
    return items


def _parse_csv(body: bytes, charset: str | None) -> list[dict[str, str]]:
    try:
        encoding = codecs.lookup(charset or "utf-8-sig").name
    except LookupError as exc:
        raise UnsupportedMediaType(f"Unknown charset {charset!r}") from exc
    if encoding == "utf-8":
        encoding = "utf-8-sig"  # a byte-order mark (spreadsheets write one) is not part of the header
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"The body is not valid {encoding} text") from exc
    first_line = text.split("\n", 1)[0]
    # French spreadsheets export with semicolons.
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, restkey=EXTRA_CELLS, strict=True)
    try:
        header = reader.fieldnames
        if not header:
            raise InvalidInput("The CSV body has no header line", loc=["body"])
        header = [name.strip() for name in header]
        unknown = [name for name in header if name not in EXIT_RECORD_COLUMNS]
        if unknown or len(set(header)) != len(header):
            raise InvalidInput(
                f"The CSV header must name distinct columns among {', '.join(EXIT_RECORD_COLUMNS)}",
                errors=[{"loc": ["header", name], "msg": "unknown column"} for name in unknown] or None,
            )
        reader.fieldnames = header
        items = []
        for row in reader:
            if len(items) == get_settings().max_batch_items:
                raise _too_many()
            items.append(_cells(row))
    except csv.Error as exc:
        raise MalformedBody(f"The body is not valid CSV: {exc}") from exc
    return items


def _cells(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row as an item: empty cells are absent fields."""
    cells = {}
    for name, value in row.items():
        if isinstance(value, str):
            value = value.strip()
        if value not in (None, ""):
            cells[name] = value
    return cells


def _find_pathway(*, session: Session, caller: Caller, item: ExitRecordIn):
    if item.pathway_id is not None:
        return access.writable_pathway(session=session, caller=caller, pathway_id=item.pathway_id)
    return access.writable_pathway_by_entry(
        session=session,
        caller=caller,
        convention_id=item.convention_id,
        ref_hash=service.ref_hash_of(item.beneficiary_ref),
        entered_on=item.entered_on,
    )


def _deadlock_as_conflict(exc: OperationalError) -> Conflict:
    # Two batches naming the same pathways in opposite orders can lock each other; PostgreSQL
    # then aborts one item of one of them. The savepoint rolled it back: the client may resend it.
    if getattr(exc.orig, "sqlstate", None) != POSTGRES_DEADLOCK:
        raise exc
    return Conflict("Another request was changing this pathway at the same moment: send this item again")


def record_exits(*, session: Session, caller: Caller, items: list[Any], atomic: bool) -> ExitRecordsAnswer:
    """Record each item's exit in its own savepoint; 422 (nothing stored) when `atomic` and any failed."""
    results: list[ExitRecordResult] = []
    counts = ExitRecordCounts()
    for index, raw in enumerate(items):
        try:
            item = ExitRecordIn.model_validate(raw)
        except ValidationError as exc:
            body = problem(
                422,
                "Invalid input",
                "The item does not match the expected shape",
                slug="invalid-input",
                errors=validation_errors(exc.errors()),
            )
            results.append(ExitRecordResult(index=index, status="error", problem=body))
            counts.error += 1
            continue
        pathway_id = item.pathway_id
        try:
            with session.begin_nested():
                pathway = _find_pathway(session=session, caller=caller, item=item)
                pathway_id = pathway.id
                exit_in = ExitIn(exited_on=item.exited_on, exit_reason=item.exit_reason, hours=item.hours)
                created = service.record_exit(session=session, caller=caller, pathway=pathway, body=exit_in)
        except (AppError, OperationalError) as exc:
            error = exc if isinstance(exc, AppError) else _deadlock_as_conflict(exc)
            results.append(
                ExitRecordResult(index=index, status="error", pathway_id=pathway_id, problem=error.to_problem())
            )
            counts.error += 1
            continue
        if created:
            counts.created += 1
        else:
            counts.unchanged += 1
        results.append(
            ExitRecordResult(index=index, status="created" if created else "unchanged", pathway_id=pathway_id)
        )
    answer = ExitRecordsAnswer(results=results, counts=counts)
    if atomic and counts.error:
        raise BatchRejected(answer)
    return answer
