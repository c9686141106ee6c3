"""Base classes and field types for request and response bodies."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from app.core.text import CONTROL_CHARACTERS

# Line breaks and tabs: allowed only in the fields that hold lines (BoundedText(multiline=True)).
_LINE_CONTROLS = re.compile("[\t\n\r]")


def _refuse_controls(value, *, lines: bool = True):
    """Every string in `value` (a string, or lists and dicts of them): no control character
    (C0, DEL, C1), and no tab or line break unless `lines`. Every output must carry what is
    stored: XLSX cannot hold BEL or ESC at all, and a terminal or a log would act on them."""
    if isinstance(value, str):
        found = CONTROL_CHARACTERS.search(value) or (None if lines else _LINE_CONTROLS.search(value))
        if found:
            raise ValueError(f"must not contain control characters (found U+{ord(found.group()):04X})")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_controls(item, lines=lines)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_controls(key, lines=lines)
            _refuse_controls(item, lines=lines)
    return value


@lru_cache(maxsize=4096)
def _takes_booleans(model: type[BaseModel], field_name: str) -> bool:
    """Whether the field's type admits a boolean anywhere (bool, bool | None, dict[str, bool]…),
    or holds models, which check their own fields."""
    field = model.model_fields.get(field_name)
    return field is None or _mentions_bool(field.annotation)


def _mentions_bool(annotation) -> bool:
    # A nested model counts as "takes booleans" here: its own fields decide, in its own validators.
    if annotation is bool or annotation is Any:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_mentions_bool(argument) for argument in get_args(annotation))


def _has_boolean(value) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, list | tuple):
        return any(_has_boolean(item) for item in value)
    # Mappings keep pydantic's own, finer errors (their value types refuse booleans themselves).
    return False


class InputModel(BaseModel):
    # Unknown fields are an error: a typo in a field name must not be silently dropped.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_as_number(cls, value, info: ValidationInfo):
        # pydantic's lax mode reads true/false as 1/0 for an int, a float or a decimal: a client
        # sending `"position": false` means something else, and must hear so (422).
        if info.field_name is not None and not _takes_booleans(cls, info.field_name) and _has_boolean(value):
            raise ValueError("must not be a boolean")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value):
        # Every text field of every body at once, whatever its type (BoundedText also refuses
        # line breaks where a field holds one line).
        return _refuse_controls(value)


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


def _one_line(value: str) -> str:
    return _refuse_controls(_storable(value), lines=False)


def _lines(value: str) -> str:
    return _refuse_controls(_storable(value), lines=True)


def BoundedText(  # noqa: N802 (builds a type)
    max_length: int, *, min_length: int = 0, pattern: str | None = None, multiline: bool = False
):
    """The type of a bounded string that every database can store and every output can carry:
    no control character, and no tab or line break unless `multiline`."""
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, pattern=pattern),
        AfterValidator(_lines if multiline else _one_line),
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
