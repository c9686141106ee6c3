"""Conventions and their yearly lines: the rules every write must pass.

A yearly line feeds the indicators (places, budget, the occupancy denominator), so writes that
would change a consolidated year's figures are refused, as are lines outside the convention's dates.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from sqlmodel import Session, exists, select

from app.audit.service import record
from app.catalogue.models import Action, Operator, Site
from app.conventions.models import Convention, ConventionSite, ConventionStatus, ConventionYear
from app.conventions.schemas import (
    ConventionCreate,
    ConventionRead,
    ConventionUpdate,
    ConventionYearBody,
    ConventionYearRead,
)
from app.core.caller import Caller
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.etag import check_if_match
from app.core.pagination import Page, PageParams, paginate
from app.core.time import utcnow
from app.periods.service import ensure_open

AUDIT_ENTITY = "convention"


# --- reading -----------------------------------------------------------------------------------


def read_models(*, session: Session, conventions: Sequence[Convention]) -> list[ConventionRead]:
    """Read models of several conventions: action codes, years and sites in one query each."""
    if not conventions:
        return []
    ids = [convention.id for convention in conventions]
    action_codes = dict(
        session.exec(select(Action.id, Action.code).where(Action.id.in_({c.action_id for c in conventions}))).all()
    )
    years: dict[int, list[ConventionYearRead]] = defaultdict(list)
    for line in session.exec(
        select(ConventionYear)
        .where(ConventionYear.convention_id.in_(ids))
        .order_by(ConventionYear.convention_id, ConventionYear.year)
    ):
        years[line.convention_id].append(ConventionYearRead.model_validate(line))
    site_ids: dict[int, list[int]] = defaultdict(list)
    for convention_id, site_id in session.exec(
        select(ConventionSite.convention_id, ConventionSite.site_id)
        .where(ConventionSite.convention_id.in_(ids))
        .order_by(ConventionSite.convention_id, ConventionSite.site_id)
    ):
        site_ids[convention_id].append(site_id)
    return [
        ConventionRead(
            id=convention.id,
            reference=convention.reference,
            action=action_codes[convention.action_id],
            operator_id=convention.operator_id,
            start_on=convention.start_on,
            end_on=convention.end_on,
            status=convention.status,
            signed_on=convention.signed_on,
            decision_reference=convention.decision_reference,
            site_ids=site_ids[convention.id],
            years=years[convention.id],
            created_at=convention.created_at,
            updated_at=convention.updated_at,
        )
        for convention in conventions
    ]


def read_model(*, session: Session, convention: Convention) -> ConventionRead:
    return read_models(session=session, conventions=[convention])[0]


def get_convention_row(*, session: Session, convention_id: int, for_update: bool = False) -> Convention:
    """The convention, 404 when missing; `for_update` locks its row until commit, so that a write
    compares the client's `If-Match` with the version no other writer can change meanwhile."""
    convention = session.get(Convention, convention_id, with_for_update=for_update, populate_existing=for_update)
    if convention is None:
        raise NotFound(f"Convention {convention_id} does not exist")
    return convention


def get_convention(*, session: Session, convention_id: int) -> ConventionRead:
    return read_model(session=session, convention=get_convention_row(session=session, convention_id=convention_id))


def list_conventions(
    *,
    session: Session,
    page: PageParams,
    action: str | None = None,
    operator_id: int | None = None,
    year: int | None = None,
    status: ConventionStatus | None = None,
) -> Page[ConventionRead]:
    statement = select(Convention).order_by(Convention.reference, Convention.id)
    if action is not None:
        statement = statement.join(Action, Action.id == Convention.action_id).where(Action.code == action)
    if operator_id is not None:
        statement = statement.where(Convention.operator_id == operator_id)
    if year is not None:
        statement = statement.where(
            exists().where(ConventionYear.convention_id == Convention.id, ConventionYear.year == year)
        )
    if status is not None:
        statement = statement.where(Convention.status == status)
    rows, total = paginate(session, statement, page)
    return Page.of(read_models(session=session, conventions=rows), total, page)


# --- rules -------------------------------------------------------------------------------------


def _year_meets_dates(year: int, start_on: date, end_on: date) -> bool:
    # [Y-01-01, Y-12-31] meets [start_on, end_on]; compared on years so no date is built from input.
    return start_on.year <= year <= end_on.year


def _check_dates(start_on: date, end_on: date) -> None:
    if start_on > end_on:
        raise InvalidInput(f"end_on ({end_on}) is before start_on ({start_on})", loc=["body", "end_on"])


def _check_line(
    line: ConventionYearBody, year: int, *, start_on: date, end_on: date, loc: list, year_loc: list
) -> None:
    if not _year_meets_dates(year, start_on, end_on):
        raise InvalidInput(f"Year {year} is outside the convention's dates ({start_on} to {end_on})", loc=year_loc)
    if line.fse_amount is not None:
        if line.budget is None:
            raise InvalidInput("fse_amount is a part of budget: give the budget too", loc=[*loc, "fse_amount"])
        if line.fse_amount > line.budget:
            raise InvalidInput(
                f"fse_amount ({line.fse_amount}) exceeds budget ({line.budget})", loc=[*loc, "fse_amount"]
            )


def _check_sites(*, session: Session, site_ids: Sequence[int], operator_id: int) -> None:
    if not site_ids:
        return
    owners = dict(session.exec(select(Site.id, Site.operator_id).where(Site.id.in_(set(site_ids)))).all())
    for index, site_id in enumerate(site_ids):
        if site_id not in owners:
            raise InvalidInput(f"Site {site_id} does not exist", loc=["body", "site_ids", index])
        if owners[site_id] != operator_id:
            raise InvalidInput(
                f"Site {site_id} belongs to another operator than the convention's ({operator_id})",
                loc=["body", "site_ids", index],
            )


def _check_reference_free(*, session: Session, reference: str, convention_id: int | None = None) -> None:
    statement = select(Convention.id).where(Convention.reference == reference)
    if convention_id is not None:
        statement = statement.where(Convention.id != convention_id)
    if session.exec(statement).first() is not None:
        raise Conflict(f"A convention with reference '{reference}' already exists")


def _covered_part(year: int, start_on: date, end_on: date) -> tuple[date, date] | None:
    """The days of `year` inside [start_on, end_on], or None."""
    if not _year_meets_dates(year, start_on, end_on):
        return None
    return max(start_on, date(year, 1, 1)), min(end_on, date(year, 12, 31))


def _ensure_dates_change_allowed(*, session: Session, old: tuple[date, date], new: tuple[date, date]) -> None:
    # The occupancy denominator counts the days of each year inside the convention's dates, so a
    # year's figures change as soon as its covered part does.
    first, last = min(old[0], new[0]).year, max(old[1], new[1]).year
    altered = [year for year in range(first, last + 1) if _covered_part(year, *old) != _covered_part(year, *new)]
    ensure_open(session=session, years=altered)


def _unique_in_order(values: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(values))


def _line_fields(line: ConventionYearBody) -> dict:
    return line.model_dump(exclude={"year"})


# --- writes ------------------------------------------------------------------------------------


def create_convention(*, session: Session, caller: Caller, data: ConventionCreate) -> ConventionRead:
    action = session.exec(select(Action).where(Action.code == data.action)).first()
    if action is None:
        raise InvalidInput(f"Action '{data.action}' does not exist", loc=["body", "action"])
    if session.get(Operator, data.operator_id) is None:
        raise InvalidInput(f"Operator {data.operator_id} does not exist", loc=["body", "operator_id"])
    _check_dates(data.start_on, data.end_on)
    seen_years: set[int] = set()
    for index, line in enumerate(data.years):
        loc = ["body", "years", index]
        if line.year in seen_years:
            raise InvalidInput(f"Year {line.year} is given twice", loc=[*loc, "year"])
        seen_years.add(line.year)
        _check_line(line, line.year, start_on=data.start_on, end_on=data.end_on, loc=loc, year_loc=[*loc, "year"])
    site_ids = _unique_in_order(data.site_ids)
    _check_sites(session=session, site_ids=site_ids, operator_id=data.operator_id)
    _check_reference_free(session=session, reference=data.reference)
    ensure_open(session=session, years=seen_years)

    convention = Convention(
        reference=data.reference,
        action_id=action.id,
        operator_id=data.operator_id,
        start_on=data.start_on,
        end_on=data.end_on,
        status=data.status,
        signed_on=data.signed_on,
        decision_reference=data.decision_reference,
    )
    session.add(convention)
    session.flush()
    for line in data.years:
        session.add(ConventionYear(convention_id=convention.id, year=line.year, **_line_fields(line)))
    for site_id in site_ids:
        session.add(ConventionSite(convention_id=convention.id, site_id=site_id))
    session.flush()
    fields = [field for field in ConventionCreate.model_fields if field != "years"]
    record(
        session=session,
        caller=caller,
        entity=AUDIT_ENTITY,
        entity_id=convention.id,
        action="create",
        fields=fields + [f"years.{line.year}" for line in data.years],
    )
    return read_model(session=session, convention=convention)


def update_convention(
    *, session: Session, caller: Caller, convention_id: int, data: ConventionUpdate, if_match: str | None
) -> ConventionRead:
    convention = get_convention_row(session=session, convention_id=convention_id, for_update=True)
    check_if_match(if_match, read_model(session=session, convention=convention))
    changes = data.model_dump(exclude_unset=True)

    old_dates = (convention.start_on, convention.end_on)
    new_dates = (changes.get("start_on", convention.start_on), changes.get("end_on", convention.end_on))
    if new_dates != old_dates:
        _check_dates(*new_dates)
        line_years = session.exec(
            select(ConventionYear.year)
            .where(ConventionYear.convention_id == convention.id)
            .order_by(ConventionYear.year)
        ).all()
        outside = [year for year in line_years if not _year_meets_dates(year, *new_dates)]
        if outside:
            raise InvalidInput(
                f"The convention has yearly lines outside the new dates: {', '.join(map(str, outside))}",
                loc=["body", "start_on" if "start_on" in changes else "end_on"],
            )
    site_ids = _unique_in_order(changes["site_ids"]) if "site_ids" in changes else None
    if site_ids is not None:
        _check_sites(session=session, site_ids=site_ids, operator_id=convention.operator_id)
    if "reference" in changes:
        _check_reference_free(session=session, reference=changes["reference"], convention_id=convention.id)
    if new_dates != old_dates:
        _ensure_dates_change_allowed(session=session, old=old_dates, new=new_dates)

    for field in ("reference", "status", "start_on", "end_on", "signed_on", "decision_reference"):
        if field in changes:
            setattr(convention, field, changes[field])
    if site_ids is not None:
        _replace_sites(session=session, convention_id=convention.id, site_ids=site_ids)
    # Sites live in another table: the convention's own row says when it last changed.
    convention.updated_at = utcnow()
    session.add(convention)
    session.flush()
    record(
        session=session,
        caller=caller,
        entity=AUDIT_ENTITY,
        entity_id=convention.id,
        action="update",
        fields=changes.keys(),
    )
    return read_model(session=session, convention=convention)


def _replace_sites(*, session: Session, convention_id: int, site_ids: list[int]) -> None:
    wanted = set(site_ids)
    current = session.exec(select(ConventionSite).where(ConventionSite.convention_id == convention_id)).all()
    for link in current:
        if link.site_id not in wanted:
            session.delete(link)
    for site_id in wanted - {link.site_id for link in current}:
        session.add(ConventionSite(convention_id=convention_id, site_id=site_id))


def put_year(
    *,
    session: Session,
    caller: Caller,
    convention_id: int,
    year: int,
    data: ConventionYearBody,
    if_match: str | None,
) -> tuple[ConventionRead, bool]:
    """Create or replace one yearly line; returns the convention and whether the line is new."""
    convention = get_convention_row(session=session, convention_id=convention_id, for_update=True)
    check_if_match(if_match, read_model(session=session, convention=convention))
    if data.year is not None and data.year != year:
        raise InvalidInput(f"The body's year ({data.year}) differs from the path's ({year})", loc=["body", "year"])
    _check_line(
        data, year, start_on=convention.start_on, end_on=convention.end_on, loc=["body"], year_loc=["path", "year"]
    )
    ensure_open(session=session, years=[year])

    line = session.exec(
        select(ConventionYear).where(ConventionYear.convention_id == convention.id, ConventionYear.year == year)
    ).first()
    created = line is None
    if created:
        line = ConventionYear(convention_id=convention.id, year=year, **_line_fields(data))
    else:
        for field, value in _line_fields(data).items():
            setattr(line, field, value)
    session.add(line)
    convention.updated_at = utcnow()
    session.add(convention)
    session.flush()
    record(
        session=session,
        caller=caller,
        entity=AUDIT_ENTITY,
        entity_id=convention.id,
        action="put_year",
        fields=[f"years.{year}"],
    )
    return read_model(session=session, convention=convention), created
