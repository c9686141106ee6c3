"""POST /exit-records: operators' batches of exits, as a JSON list or as CSV.

A batch is validated, looked up and written set-based (record_exits); a bad item never blocks
the good ones, and with `atomic=true` any bad item means nothing is stored (422 carrying every
item's result). The
body is read in chunks and refused (413) as soon as it passes `max_batch_bytes`, whatever
Content-Length claims.
"""

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar, get_args

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import Row, update
from sqlmodel import Session

from app.audit.service import record
from app.core.bodies import validated
from app.core.caller import Caller
from app.core.changes import FEED_NOTED, note_change
from app.core.config import get_settings
from app.core.db import rows_table
from app.core.errors import (
    MAX_LISTED_ERRORS,
    AppError,
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PeriodConsolidated,
    UnsupportedMediaType,
    echoed,
    list_at_most,
)
from app.core.time import utcnow
from app.pathways import access, participants, rules, service
from app.pathways.esf_schemas import leaving_fields
from app.pathways.models import Pathway
from app.pathways.schemas import (
    ExitRecordCounts,
    ExitRecordIn,
    ExitRecordResult,
    ExitRecordsAnswer,
)
from app.periods.service import closed_years
from app.seats import service as seats

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
# CSV rows that have more cells than the header: kept under this name so the item fails cleanly.
EXTRA_CELLS = "extra_cells"


# An item's outcome: ("created" | "unchanged" | "error", the pathway's id, the problem).
Decision = tuple[str, int | None, AppError | None]


def decide_exits(
    *, session: Session, exits: dict[int, tuple[Row | None, dict[str, Any]]], missing
) -> tuple[dict[int, Decision], dict[int, dict[str, Any]]]:
    """Decide each exit of a batch, without writing: `exits` gives, per item, the row of its
    pathway locked by the caller (its state fields, see access.lock_writable_pathways) and the
    exit's fields (exited_on, exit_reason, hours when given). The same rules as
    `service.exit_pathway`, item after item (a pathway named twice sees the first item's exit),
    with the consolidated years read once for the whole batch. Returns each item's decision and the state each exited
    pathway is to be written with."""
    current = {row.id: row._asdict() for row, _exit in exits.values() if row is not None}
    years = set()
    for row, exit_fields in exits.values():
        if row is not None and row.exited_on is None and row.entered_on is not None:
            before = current[row.id]
            years |= rules.touched_years(before, before | exit_fields)
    closed = closed_years(session=session, years=years)
    states: dict[int, dict[str, Any]] = {}
    decided: dict[int, Decision] = {}
    for index, (row, exit_fields) in sorted(exits.items()):
        if row is None:
            decided[index] = ("error", None, missing(index))
            continue
        before = states.get(row.id) or current[row.id]
        try:
            after = rules.exit_state(pathway_id=row.id, before=before, exit_fields=exit_fields)
            if after is None:
                decided[index] = ("unchanged", row.id, None)
                continue
            if clash := sorted(rules.touched_years(before, after) & closed):
                raise PeriodConsolidated(f"{', '.join(map(str, clash))} consolidated: reopen the period first")
        except AppError as error:
            decided[index] = ("error", row.id, error)
            continue
        states[row.id] = after
        decided[index] = ("created", row.id, None)
    return decided, states


EXITED = ("exited_on", "exit_reason", "hours")  # what an exit writes on its pathway


def write_exits(
    *, session: Session, caller: Caller, states: dict[int, dict[str, Any]], pathways: dict[int, Row]
) -> None:
    """Store the exits `decide_exits` accepted: one UPDATE for all of them, from the batch's rows
    as a table (app.core.db.rows_table: four array parameters on PostgreSQL), one audit event for
    the batch (naming the pathways), their feed rows, then the waiting lists they free (only
    where someone waits: the counters say so without a count)."""
    if not states:
        return
    table = Pathway.__table__
    exits = rows_table(
        session,
        "exits",
        [("pathway_id", table.c.id.type), *((name, table.c[name].type) for name in EXITED)],
        [(pathway_id, *(state[name] for name in EXITED)) for pathway_id, state in sorted(states.items())],
    )
    session.execute(
        update(table)
        .execution_options(**{FEED_NOTED: True})  # noted below
        .where(table.c.id == exits.c.pathway_id)
        .values({name: exits.c[name] for name in EXITED} | {"updated_at": utcnow()})
    )
    session.expire_all()  # the rows changed under the ORM
    record(
        session=session,
        caller=caller,
        entity="exit_records",
        entity_id=f"{len(states)} pathways",
        action="exit",
        fields=[f"pathway:{pathway_id}" for pathway_id in sorted(states)],
    )
    conventions = {pathways[pathway_id].convention_id for pathway_id in states}
    for pathway_id in states:
        note_change(session, "pathway", pathway_id)
    for convention_id in conventions:
        note_change(session, "availability", convention_id)
    for convention_id in seats.with_waiting_list(session, conventions):
        seats.promote_waitlisted(session=session, caller=caller, convention_id=convention_id)


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
    encoding: str  # the codec a CSV body is decoded with (a JSON body is read as JSON says)
    body: bytes


# The charsets a CSV body may name, by Python's codec names: the Unicode forms, ASCII, the ISO
# 8859 family, the Windows, DOS and Mac code pages. Not rot13, base64 or zlib (no text
# encodings), nor idna, punycode, utf-7 or unicode_escape: no office writes them, and some
# decode in quadratic time.
TEXT_CHARSETS = re.compile(r"(utf-(8|16|32)(-le|-be)?|utf-8-sig|ascii|iso8859-\d+|cp\d+|mac-[a-z0-9]+|koi8-[a-z]+)")


def text_encoding(charset: str | None) -> str:
    """The codec of a body's `charset=` parameter (UTF-8 by default, a byte-order mark skipped);
    415 for an unknown one or one that is no text encoding."""
    try:
        encoding = codecs.lookup(charset or "utf-8").name
    except LookupError:
        encoding = None
    if encoding is None or not TEXT_CHARSETS.fullmatch(encoding):
        raise UnsupportedMediaType(
            f"Unsupported charset {echoed(charset or '')!r}: send UTF-8 (the default), UTF-16, ISO-8859-n or a "
            "Windows code page such as windows-1252"
        )
    # A byte-order mark (spreadsheets write one) is not part of the header.
    return "utf-8-sig" if encoding == "utf-8" else encoding


async def read_batch(request: Request) -> Batch:
    """The raw body of a batch: 415 for another content type or an unsupported charset, 413 past
    the size limit. Only the bytes are read here, on the event loop: the routes parse them in
    their thread (they are plain functions), so that a big body never holds up other requests."""
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
    encoding = text_encoding(charset)
    limit = get_settings().max_batch_bytes
    too_large = PayloadTooLarge(f"A batch body may not exceed {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return Batch(media_type=media_type, encoding=encoding, body=b"".join(chunks))


def batch_request_body(model: type[BaseModel], *, example: str) -> dict[str, Any]:
    """`openapi_extra` declaring a batch's body: a JSON list of `model`, or CSV with its fields as
    columns (a string of bytes, as generators take a file: its charset is the client's to say)."""
    columns = ",".join(model.model_fields)
    return {
        "requestBody": {
            "required": True,
            "content": {
                JSON_TYPE: {"schema": {"type": "array", "items": model.model_json_schema()}},
                CSV_TYPE: {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": (
                            f"A header line naming any of the columns {columns} in any order, then one line per "
                            "item; `,` or `;` between cells (as the header has it); UTF-8 (a byte-order mark "
                            "or not) unless `charset=` says otherwise; days as YYYY-MM-DD or JJ/MM/AAAA, "
                            "decimals with a point or a comma; an empty cell is an absent field"
                        ),
                    },
                    "example": example,
                },
            },
        }
    }


def _too_many() -> PayloadTooLarge:
    return PayloadTooLarge(f"A batch may hold at most {get_settings().max_batch_items} items")


@dataclass(frozen=True)
class Items:
    """A batch's items, not yet validated, and for CSV the line of each (the header is line 1)."""

    items: list[Any]
    lines: list[int] | None = None


def parse_items(batch: Batch, model: type[BaseModel] = ExitRecordIn) -> Items:
    """The batch's items, not yet validated: a JSON list, or CSV rows (whose header names some of
    `model`'s fields) as dicts of their non-empty cells, read as French offices write them."""
    if batch.media_type == JSON_TYPE:
        parsed = Items(_parse_json(batch.body))
    else:
        parsed = _parse_csv(batch.body, batch.encoding, model)
    if len(parsed.items) > get_settings().max_batch_items:
        raise _too_many()
    return parsed


def _parse_json(body: bytes) -> list[Any]:
    try:
        items = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedBody("The body is not valid JSON") from exc
    if not isinstance(items, list):
        raise InvalidInput("The body must be a JSON list of records", loc=["body"])
    return items


def _parse_csv(body: bytes, encoding: str, model: type[BaseModel]) -> Items:
    """CSV as spreadsheets save it: `;` or `,` between cells (the header says which: it holds no
    decimal), a byte-order mark or not, any line ends; a line of empty cells is a blank line.
    Each item keeps its line, so that its result names where to look."""
    try:
        text = body.decode(encoding)
    except UnicodeError as exc:
        raise MalformedBody(f"The body is not valid {encoding} text") from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    limit = get_settings().max_batch_items
    try:
        header = next(reader, None)
        if not header:
            raise InvalidInput("The CSV body has no header line", loc=["body"])
        header = [name.strip() for name in header]
        _check_header(header, tuple(model.model_fields))
        kinds = _csv_kinds(model)
        items, lines = [], []
        while True:
            line = reader.line_num + 1  # where the next record starts (it may span lines)
            row = next(reader, None)
            if row is None:
                break
            if not any(cell.strip() for cell in row):
                continue
            if len(items) == limit:
                raise _too_many()
            items.append(_cells(header, row, kinds))
            lines.append(line)
    except csv.Error as exc:
        raise MalformedBody(f"The body is not valid CSV: {exc}") from exc
    return Items(items, lines)


def _check_header(header: list[str], columns: tuple[str, ...]) -> None:
    """One problem for a header naming unknown, empty or repeated columns, naming them (the
    first few in `detail`, up to MAX_LISTED_ERRORS in `errors`, by their position from 1) and
    counting the others: a header of two million empty columns costs a count, not two million
    errors."""
    known, seen = set(columns), set()
    wrong: list[tuple[int, str, str]] = []
    count = 0
    for position, name in enumerate(header, start=1):
        if name in known and name not in seen:
            seen.add(name)
            continue
        count += 1
        if len(wrong) == MAX_LISTED_ERRORS:
            continue
        if not name:
            wrong.append((position, "empty column name", f"column {position} (empty)"))
        elif name not in known:
            wrong.append((position, f"unknown column {echoed(name)!r}", repr(echoed(name, 40))))
        else:
            wrong.append((position, f"column {name!r} named twice", f"{name!r} again"))
    if not count:
        return
    named = ", ".join(label for _position, _msg, label in wrong[:5])
    more = f" and {count - 5} more" if count > 5 else ""
    raise InvalidInput(
        f"The CSV header must name distinct columns among {', '.join(columns)}; "
        f"{count} column(s) are not: {named}{more}",
        errors=[{"loc": ["header", position], "msg": msg} for position, msg, _label in wrong],
        errors_not_listed=count - len(wrong),
    )


# How French offices write what JSON writes in ISO: 30/06/2019, 35,5.
FRENCH_DAY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
DECIMAL_COMMA = re.compile(r"([+-]?\d*),(\d+)")


def _csv_kinds(model: type[BaseModel]) -> dict[str, str]:
    """The fields of `model` whose CSV cells may be written the French way: "day" or "decimal"."""
    kinds = {}
    for name, field in model.model_fields.items():
        types = _types_in(field.annotation)
        if date in types:
            kinds[name] = "day"
        elif float in types or Decimal in types:
            kinds[name] = "decimal"
    return kinds


def _types_in(annotation: Any) -> set[Any]:
    arguments = get_args(annotation)
    if not arguments:
        return {annotation}
    return set().union(*(_types_in(argument) for argument in arguments))


def _cells(header: list[str], row: list[str], kinds: dict[str, str]) -> dict[str, Any]:
    """A CSV row as an item: empty cells are absent fields, a day as JJ/MM/AAAA and a decimal
    with a comma are given to validation in ISO form (it judges them: 31/02/2019 is no day), and
    cells past the header are kept under EXTRA_CELLS so that the item fails cleanly."""
    cells: dict[str, Any] = {}
    for name, value in zip(header, row, strict=False):
        value = value.strip()
        if not value:
            continue
        kind = kinds.get(name)
        if kind == "day" and (day := FRENCH_DAY.fullmatch(value)):
            value = f"{day[3]}-{int(day[2]):02}-{int(day[1]):02}"
        elif kind == "decimal" and (number := DECIMAL_COMMA.fullmatch(value)):
            value = f"{number[1]}.{number[2]}"
        cells[name] = value
    if len(row) > len(header):
        cells[EXTRA_CELLS] = row[len(header) :]
    return cells


M = TypeVar("M", bound=BaseModel)


def validated_items(items: list[Any], model: type[M]) -> tuple[dict[int, M], dict[int, dict[str, Any]]]:
    """Each item of a batch checked against its shape (exit records, follow-ups): the valid ones by
    index, and the problems of the others."""
    valid, errors = {}, {}
    for index, raw in enumerate(items):
        item, wrong, not_listed = validated(model, raw)
        if item is not None:
            valid[index] = item
        else:
            errors[index] = InvalidInput(
                "The item does not match the expected shape", errors=wrong, errors_not_listed=not_listed
            ).to_problem()
    return valid, errors


def batch_answer(
    results: list[ExitRecordResult], counts: ExitRecordCounts, lines: list[int] | None
) -> ExitRecordsAnswer:
    """The answer to a batch: for CSV, each result and each problem names the item's line; the
    items' problems list MAX_LISTED_ERRORS errors between them and count the others, so that a
    batch of a thousand bad items stays a small answer."""
    if lines is not None:
        for result, line in zip(results, lines, strict=True):
            result.line = line
            if result.problem is not None:
                result.problem["line"] = line
    list_at_most([result.problem for result in results if result.problem is not None])
    return ExitRecordsAnswer.model_construct(results=results, counts=counts)


def _pathway_ids(*, session: Session, caller: Caller, items: dict[int, ExitRecordIn]) -> dict[int, int]:
    """The pathway each item names, by index: given by id, or found by (convention, person, entry)
    in one query for the whole batch. An item whose pathway is not found is absent."""
    ids = {index: item.pathway_id for index, item in items.items() if item.pathway_id is not None}
    by_entry = {
        index: (item.convention_id, service.ref_hash_of(item.beneficiary_ref), item.entered_on)
        for index, item in items.items()
        if item.pathway_id is None
    }
    if by_entry:
        found = access.pathways_by_entry(session=session, caller=caller, entries=set(by_entry.values()))
        ids |= {index: found[entry] for index, entry in by_entry.items() if entry in found}
    return ids


def record_exits(
    *, session: Session, caller: Caller, items: list[Any], atomic: bool, lines: list[int] | None = None
) -> ExitRecordsAnswer:
    """Record a batch of exits with a handful of statements whatever its size: validate every
    item, find and lock every pathway named (in id order, so that two batches cannot deadlock),
    decide each item on the locked rows, then write all the exits at once and audit the batch as
    one event. 422 (nothing stored) when `atomic` and any item failed. `lines`: each item's line
    in a CSV body, named in its result."""
    access.check_writer(caller)
    valid, errors = validated_items(items, ExitRecordIn)
    pathway_of = _pathway_ids(session=session, caller=caller, items=valid)
    pathways = access.lock_writable_pathways(
        session=session, caller=caller, pathway_ids=set(pathway_of.values()), columns=rules.STATE_FIELDS
    )
    decided, exited = decide_exits(
        session=session,
        exits={index: (pathways.get(pathway_of.get(index)), item.exit_fields()) for index, item in valid.items()},
        missing=lambda index: _not_found(valid[index]),
    )
    leaving = _check_leaving(session=session, items=valid, decided=decided, exited=exited)
    results: list[ExitRecordResult] = []
    counts = ExitRecordCounts()
    for index in range(len(items)):
        if index in errors:
            outcome, pathway_id, error = "error", None, errors[index]
        else:
            outcome, pathway_id, app_error = decided[index]
            error = app_error.to_problem() if app_error is not None else None
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        # Built from values already checked: no validation of a thousand results again.
        results.append(
            ExitRecordResult.model_construct(index=index, status=outcome, pathway_id=pathway_id, problem=error)
        )
    answer = batch_answer(results, counts, lines)
    if atomic and counts.error:
        raise BatchRejected(answer)
    write_exits(session=session, caller=caller, states=exited, pathways=pathways)
    participants.write_leaving_batch(session=session, leaving=leaving)
    return answer


def _check_leaving(
    *, session: Session, items: dict[int, ExitRecordIn], decided: dict[int, Decision], exited: dict
) -> dict[int, dict[str, Any]]:
    """The FSE leaving fields of the batch (SPEC C9), on the decisions taken: an exit posted again
    with other leaving fields becomes an error (409), as another date or reason would; returns
    the fields to store per pathway newly exited. One query for the whole batch."""
    given = {index: leaving_fields(items[index]) for index in decided if decided[index][0] != "error"}
    rows = participants.rows_of(session, [decided[index][1] for index, fields in given.items() if fields])
    leaving: dict[int, dict[str, Any]] = {}
    for index, fields in sorted(given.items()):
        outcome, pathway_id, _error = decided[index]
        if not fields:
            continue
        if outcome == "unchanged" and pathway_id not in leaving:
            if conflict := participants.leaving_conflict(pathway_id=pathway_id, row=rows.get(pathway_id), given=fields):
                decided[index] = ("error", pathway_id, conflict)
        elif outcome == "unchanged":
            if any(leaving[pathway_id].get(name, value) != value for name, value in fields.items()):
                conflict = Conflict(f"Pathway {pathway_id} is exited twice in this batch with other leaving fields")
                decided[index] = ("error", pathway_id, conflict)
        else:
            leaving[pathway_id] = fields
    return leaving


def _not_found(item: ExitRecordIn) -> NotFound:
    if item.pathway_id is not None:
        return NotFound(f"Pathway {item.pathway_id} does not exist")
    return NotFound(f"No pathway of this beneficiary entered on {item.entered_on} in convention {item.convention_id}")
