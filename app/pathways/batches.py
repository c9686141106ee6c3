"""A batch's body (POST /exit-records, POST /follow-ups): read, parsed, checked item by item,
and answered with a result per item.

The body is read in chunks and refused (413) as soon as it passes `max_batch_bytes`, whatever
Content-Length claims; a JSON list, or CSV as French offices write it; each item is validated
against its shape, a bad item never blocking the good ones; the answer lists at most
MAX_LISTED_ERRORS errors between its items' problems. With `atomic=true`, any bad item means
nothing is stored (BatchRejected: 422 carrying every item's result).
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

from app.core.bodies import validated
from app.core.config import get_settings
from app.core.errors import (
    MAX_LISTED_ERRORS,
    AppError,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
    echoed,
    list_at_most,
)
from app.pathways.schemas import BatchAnswer, ExitRecordCounts, ExitRecordResult

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
# CSV rows that have more cells than the header: kept under this name so the item fails cleanly.
EXTRA_CELLS = "extra_cells"


class MalformedBody(AppError):
    status = 400
    title = "Malformed body"
    slug = "malformed-body"


class BatchRejected(InvalidInput):
    """An all-or-nothing batch with a bad item: nothing stored, every item's result returned."""

    def __init__(self, answer: BatchAnswer):
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


def parse_items(batch: Batch, model: type[BaseModel]) -> Items:
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
Answer = TypeVar("Answer", bound=BatchAnswer)


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
    answer: type[Answer], results: list[ExitRecordResult], counts: ExitRecordCounts, lines: list[int] | None
) -> Answer:
    """The answer to a batch: for CSV, each result and each problem names the item's line; the
    items' problems list MAX_LISTED_ERRORS errors between them and count the others, so that a
    batch of a thousand bad items stays a small answer."""
    if lines is not None:
        for result, line in zip(results, lines, strict=True):
            result.line = line
            if result.problem is not None:
                result.problem["line"] = line
    list_at_most([result.problem for result in results if result.problem is not None])
    return answer.model_construct(results=results, counts=counts)
