"""Reference tables: public, read-only."""

from dataclasses import asdict

from fastapi import APIRouter
from pydantic import BaseModel

from app.reference.exit_reasons import EXIT_REASONS

router = APIRouter(prefix="/reference", tags=["reference"])


class ExitReasonRead(BaseModel):
    code: str
    label: str
    dynamic: bool
    durable_employment: bool
    completed: bool


@router.get("/exit-reasons", response_model=list[ExitReasonRead])
def list_exit_reasons():
    """The exit reasons, their French labels and the flags the indicators count on."""
    return [ExitReasonRead(**asdict(reason)) for reason in EXIT_REASONS]
