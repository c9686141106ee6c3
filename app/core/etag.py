"""ETags on editable resources, and the `If-Match` check on their writes.

The tag is a hash of the resource's JSON representation, so it changes exactly when what a
client sees changes, with no version column to keep in step.
"""

import hashlib
import json

from fastapi import Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from app.core.errors import PreconditionFailed


def etag_of(model: BaseModel) -> str:
    payload = json.dumps(jsonable_encoder(model), sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(payload.encode()).hexdigest()[:32] + '"'


def check_if_match(if_match: str | None, current: BaseModel) -> None:
    """412 when the client's `If-Match` names another version than the stored one."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if etag_of(current) not in wanted:
        raise PreconditionFailed("The resource changed since you read it (If-Match does not match its ETag)")


def with_etag(response: Response, model: BaseModel) -> BaseModel:
    response.headers["ETag"] = etag_of(model)
    return model
