"""Base classes and field types for request and response bodies."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, StringConstraints


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


ShortText = BoundedText(200, min_length=1)
LongText = BoundedText(5000)
Slug = BoundedText(64, min_length=1, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Stored timestamps are UTC; read models always say so.
Timestamp = Annotated[datetime, AfterValidator(_as_utc)]
# Euros are stored as exact decimals and written in JSON as numbers, not strings.
Euros = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
