"""Base classes and field types for request and response bodies."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StringConstraints


class InputModel(BaseModel):
    # Unknown fields are an error: a typo in a field name must not be silently dropped.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _storable(value: str) -> str:
    # PostgreSQL refuses NUL in text and no database stores lone surrogates: a 422, not a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 text") from None
    return value


def BoundedText(max_length: int, *, min_length: int = 0, pattern: str | None = None):  # noqa: N802 (builds a type)
    """The type of a bounded string that every database can store."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, pattern=pattern),
        AfterValidator(_storable),
    ]


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone: the same instant must read (and hash
    # into an ETag) the same whichever database or session it comes from.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Ids go into 32-bit integer columns: a bigger number is bad input, not a database error.
MAX_INT = 2_147_483_647
RowId = Annotated[int, Field(ge=1, le=MAX_INT)]

Slug = BoundedText(64, min_length=1, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Stored timestamps are UTC; read models always say so.
Timestamp = Annotated[datetime, AfterValidator(_as_utc)]
# Euros are stored as exact decimals and written in JSON as numbers, not strings.
Euros = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day_only(value):
    # pydantic alone would also read "1560556800" or "0" as Unix timestamps: a portal sending
    # the wrong thing would silently get figures for another day.
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("Expected a date as YYYY-MM-DD")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day_only)]

# An ISO 8601 date-time (a day alone means its midnight, UTC unless an offset is given).
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?)?")


def _iso_moment_only(value):
    # As for days: "0.5" or "1560556800" would otherwise be read as Unix timestamps.
    if isinstance(value, str) and not _ISO_MOMENT.fullmatch(value):
        raise ValueError("Expected an ISO 8601 date-time, e.g. 2020-06-30T12:00:00+02:00")
    return value


IsoMoment = Annotated[datetime, BeforeValidator(_iso_moment_only)]
