"""Reference tables: public, read-only."""

from dataclasses import asdict

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.reference import data_inclusion
from app.reference.diagnostic_dimensions import DIMENSIONS
from app.reference.exit_reasons import EXIT_REASONS
from app.reference.indicators import INDICATORS
from app.reference.refusal_reasons import REFUSAL_REASONS

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


class BaseRead(BaseModel):
    persons: str = Field(description="The count of persons the figure is computed over (a rate's denominator)")
    part: str | None = Field(description="A rate's numerator, itself a count of persons; null for a count or a mean")


class IndicatorRead(BaseModel):
    code: str
    label: str
    definition: str
    unit: str  # count, euros, rate (a fraction: 0.53 is 53 %), days
    base: BaseRead | None = Field(
        description="The persons the figure rests on (statistical secrecy); null when it is not about persons"
    )


@router.get("/indicators", response_model=list[IndicatorRead])
def list_indicators():
    """The indicators the engine computes: code, French label, definition, unit and base."""
    return [
        IndicatorRead(
            code=i.code,
            label=i.label,
            definition=i.definition,
            unit=i.unit.value,
            base=BaseRead(persons=i.base.persons, part=i.base.part) if i.base else None,
        )
        for i in INDICATORS
    ]


class CodeLabel(BaseModel):
    code: str
    label: str


@router.get("/refusal-reasons", response_model=list[CodeLabel])
def list_refusal_reasons():
    """Why an operator refuses a prescription: codes and French labels."""
    return [CodeLabel(code=reason.code, label=reason.label) for reason in REFUSAL_REASONS]


@router.get("/diagnostic-dimensions", response_model=list[CodeLabel])
def list_diagnostic_dimensions():
    """The fifteen dimensions of a diagnostic (assets and barriers), with the document's French labels."""
    return [CodeLabel(code=dimension.code, label=dimension.label) for dimension in DIMENSIONS]


class ReferentialValue(BaseModel):
    value: str
    label: str


class DataInclusionReferentials(BaseModel):
    package: str  # the package the values were vendored from, and its version
    package_version: str
    schema_version: str
    referentials: dict[str, list[ReferentialValue]]


@router.get("/data-inclusion", response_model=DataInclusionReferentials)
def list_data_inclusion_referentials():
    """The data·inclusion values an action's thematiques, type, publics, frais and modes take."""
    return DataInclusionReferentials(
        package=data_inclusion.PACKAGE,
        package_version=data_inclusion.PACKAGE_VERSION,
        schema_version=data_inclusion.SCHEMA_VERSION,
        referentials=data_inclusion.REFERENTIALS,
    )
