from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from app.auth.dependencies import AdminDep
from app.core import time as clock
from app.core.config import Settings, get_settings
from app.core.db import SessionDep
from app.core.errors import PayloadTooLarge, UnsupportedMediaType, responses
from app.imports import structures
from app.imports.schemas import StructureImportAnswer

router = APIRouter(prefix="/imports/data-inclusion", tags=["imports"])

SettingsDep = Annotated[Settings, Depends(get_settings)]


async def _body(request: Request) -> tuple[str, bytes]:
    """The body and its media type: 415 for another type, 413 past PDI_MAX_BATCH_BYTES."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in (structures.XLSX_TYPE, structures.JSON_TYPE):
        raise UnsupportedMediaType(f"Send data·inclusion's template ({structures.XLSX_TYPE}) or a JSON list")
    limit = get_settings().max_batch_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"An import may not exceed {limit} bytes")
        chunks.append(chunk)
    return media_type, b"".join(chunks)


@router.post(
    "/structures",
    response_model=StructureImportAnswer,
    responses=responses(401, 403, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                structures.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
                structures.JSON_TYPE: {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        }
    },
)
def import_structures(
    session: SessionDep,
    caller: AdminDep,
    settings: SettingsDep,
    body: Annotated[tuple[str, bytes], Depends(_body)],
    atomic: Annotated[bool, Query(description="All or nothing: any bad structure stores nothing (422)")] = False,
):
    """Create or update operators (by SIRET) and their sites (by the structure's id) from
    data·inclusion structures: the publication template's `Structures` sheet, or a JSON list as
    data·inclusion's API gives them. One result per structure, in the file's order."""
    media_type, content = body
    items = structures.read_structures(media_type=media_type, body=content)
    if len(items) > settings.max_batch_items:
        raise PayloadTooLarge(f"An import may hold at most {settings.max_batch_items} structures")
    return structures.import_structures(
        session=session,
        caller=caller,
        structures=items,
        own_source=settings.source,
        today=clock.today(),
        atomic=atomic,
    )
