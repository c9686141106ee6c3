"""JSON bodies a route reads only once it knows who may send them.

FastAPI validates a declared body before the route runs: a caller with no right to the resource
would hear a detailed 422 about a body it may not send, and cost the server its validation (a
PUT with 70,000 unknown keys). A route that checks rights first takes the raw bytes (`RawBody`,
read on the event loop, bounded by app/core/body_limit.py), checks, then parses them with
`parsed_body` in its own thread (a plain `def` route) and gets the very problem FastAPI would
have given. `json_request_body` documents the model in the OpenAPI document as FastAPI would.
"""

import json
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from app.core.errors import MAX_LISTED_ERRORS, InvalidInput, echoed, validation_errors

M = TypeVar("M", bound=BaseModel)

SHAPE = "The request does not match the expected shape"


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


def parsed_body(raw: bytes, model: type[M]) -> M:
    """The body as `model`, or the 422 problem of a body that is no JSON or does not fit it."""
    try:
        data = json.loads(raw) if raw else None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidInput(SHAPE, errors=[{"loc": ["body"], "msg": "JSON decode error"}]) from exc
    if data is None:
        raise InvalidInput(SHAPE, errors=[{"loc": ["body"], "msg": "Field required"}])
    value, errors, not_listed = validated(model, data)
    if value is None:
        raise InvalidInput(
            SHAPE,
            errors=[{**error, "loc": ["body", *error["loc"]]} for error in errors],
            errors_not_listed=not_listed,
        )
    return value


EXTRA = "Extra inputs are not permitted"


def validated(model: type[M], data: Any) -> tuple[M | None, list[dict[str, Any]], int]:
    """`data` as `model`, or None, what is wrong with it (`loc` from `data`'s top) and how many
    more errors were found than are listed. pydantic spends seconds naming 70,000 unknown keys:
    past MAX_LISTED_ERRORS of them, the first ones are named here and the others counted, and only
    the known keys are left to pydantic. (Nested mappings bound their own size: see
    DiagnosticIn.dimensions.)"""
    extra: list[dict[str, Any]] = []
    not_listed = 0
    if isinstance(data, dict) and model.model_config.get("extra") == "forbid":
        known = set(model.model_fields) | {
            field.validation_alias for field in model.model_fields.values() if isinstance(field.validation_alias, str)
        }
        unknown = [key for key in data if key not in known]
        if len(unknown) > MAX_LISTED_ERRORS:
            extra = [{"loc": [echoed(str(key))], "msg": EXTRA} for key in unknown[:MAX_LISTED_ERRORS]]
            not_listed = len(unknown) - MAX_LISTED_ERRORS
            data = {key: value for key, value in data.items() if key in known}
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        return None, validation_errors(exc.errors(include_url=False, include_context=False)) + extra, not_listed
    return (None, extra, not_listed) if extra else (value, [], 0)


def json_request_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring `model` as the route's required JSON body, under its own name
    among the components (app/core/openapi.py hoists the `$defs`)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "$ref": f"#/components/schemas/{model.__name__}",
                        "$defs": {**definitions, model.__name__: schema},
                    }
                }
            },
        }
    }
