"""What the FSE's reporting asks of operators: the pathways whose participant record is missing."""

from datetime import date

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from app.conventions.models import Convention, ConventionYear
from app.core.caller import Caller
from app.core.pagination import Page, PageParams, paginate_rows
from app.esf.records.models import ENTRY_FIELDS, PathwayParticipant
from app.pathways import access
from app.pathways.models import Pathway


def incomplete_pathways(*, session: Session, caller: Caller, year: int, params: PageParams) -> Page[int]:
    """Ids of the caller's pathways entered in `year` into a convention co-funded by the FSE that
    year (`fse_amount > 0`) whose participant record is missing or not complete."""
    access.check_writer(caller)
    pp = PathwayParticipant
    statement = (
        select(Pathway.id)
        .join(Convention, Convention.id == Pathway.convention_id)
        .join(
            ConventionYear,
            and_(ConventionYear.convention_id == Pathway.convention_id, ConventionYear.year == year),
        )
        .outerjoin(pp, pp.pathway_id == Pathway.id)
        .where(
            access.pathway_visibility(caller),
            ConventionYear.fse_amount > 0,
            Pathway.cancelled_on.is_(None),
            Pathway.entered_on >= date(year, 1, 1),
            Pathway.entered_on <= date(year, 12, 31),
            or_(*(getattr(pp, name).is_(None) for name in ENTRY_FIELDS)),
        )
        .order_by(Pathway.id)
    )
    rows, total = paginate_rows(session, statement, params)
    return Page(items=[row.id for row in rows], total=total, page=params.page, size=params.size)
