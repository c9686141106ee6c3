from fastapi import APIRouter

from app.auth.dependencies import AdminDep, KeyHolderDep
from app.core.db import SessionDep
from app.core.errors import responses
from app.core.pagination import Page, PageDep
from app.periods import service as periods
from app.periods.schemas import PeriodRead

router = APIRouter(prefix="/periods", tags=["periods"])


@router.get("", response_model=Page[PeriodRead], responses=responses(401, 403, 422))
def list_periods(session: SessionDep, _caller: KeyHolderDep, page: PageDep):
    """Every year with convention years or a period record, its status, oldest first.

    Any key may read it: operators and the portal need to know which years no longer take writes."""
    rows, total = periods.list_periods(session=session, offset=page.offset, limit=page.size)
    items = [PeriodRead(year=year, status=status, consolidated_at=at) for year, status, at in rows]
    return Page.of(items, total, page)


@router.post("/{year}/consolidate", response_model=PeriodRead, responses=responses(401, 403, 409, 422))
def consolidate_period(session: SessionDep, caller: AdminDep, year: int):
    """Consolidate a year: its figures become final and writes that would change them are refused."""
    return PeriodRead.model_validate(periods.consolidate(session=session, caller=caller, year=year))


@router.post("/{year}/reopen", response_model=PeriodRead, responses=responses(401, 403, 409, 422))
def reopen_period(session: SessionDep, caller: AdminDep, year: int):
    """Reopen a consolidated year so that its figures can be corrected."""
    return PeriodRead.model_validate(periods.reopen(session=session, caller=caller, year=year))
