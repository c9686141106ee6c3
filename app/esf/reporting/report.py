"""The ESF+ report of a year (SPEC C9), counted by the database: two GROUP BY queries (the
entrants, the leavers with their follow-ups), grouped by convention and sex; Python only lays
the counts out and adds the total.

For year Y and each convention whose year Y has `fse_amount > 0`:
- output indicators count the persons (`person_key`) whose first entry into the convention falls
  in Y, once whatever their pathways there, with the characteristics recorded on the pathway of
  that entry; age = Y − `birth_year`; a sex not recorded counts in `total` only. A person whose
  record is not complete counts in `participants` (and `incomplete`) and in no other row;
- results on leaving count the persons whose last exit from the convention falls in Y, the
  situation on leaving following from that exit's reason (app/reference/exit_reasons.py);
- six-month results count the follow-ups of those exits.
The total is the sum over the conventions listed (a person in two co-funded conventions is two
participants, as each operation reports its own).
"""

from datetime import date
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlmodel import Session

from app.auth.models import Role
from app.catalogue.models import Action
from app.conventions.models import Convention, ConventionYear
from app.core.caller import Caller
from app.esf.records.models import EMPLOYED_SITUATIONS, ENTRY_FIELDS, FollowUp, PathwayParticipant
from app.esf.reporting.indicators import ESF_CODES, ESF_INDICATORS, SEXES
from app.indicators import secrecy
from app.pathways.models import Pathway
from app.reference.exit_reasons import EDUCATION_ON_LEAVING_REASONS, EMPLOYED_ON_LEAVING_REASONS


def cofunded_conventions(
    *, session: Session, caller: Caller, year: int, convention_id: int | None = None, action: str | None = None
) -> list[Any]:
    """The conventions co-funded by the FSE in `year` that the caller may report on, by id."""
    statement = (
        select(Convention.id, Convention.reference, Action.code.label("action"))
        .join(ConventionYear, ConventionYear.convention_id == Convention.id)
        .join(Action, Action.id == Convention.action_id)
        .where(ConventionYear.year == year, ConventionYear.fse_amount > 0)
        .order_by(Convention.id)
    )
    if caller.role == Role.operator:
        statement = statement.where(Convention.operator_id == caller.operator_id)
    if convention_id is not None:
        statement = statement.where(Convention.id == convention_id)
    if action is not None:
        statement = statement.where(Action.code == action)
    return list(session.execute(statement))


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


def entrant_counts(session: Session, convention_ids: list[int], year: int) -> dict[tuple[int, str | None], dict]:
    """Per (convention, sex): the output indicators and `incomplete`."""
    p = Pathway.__table__.c
    ranked = (
        select(
            p.id,
            p.convention_id,
            p.entered_on,
            p.sex,
            p.birth_year,
            p.territory,
            func.row_number()
            .over(partition_by=(p.convention_id, p.person_key), order_by=(p.entered_on, p.id))
            .label("rank"),
        )
        .where(p.convention_id.in_(convention_ids), p.entered_on.is_not(None), p.cancelled_on.is_(None))
        .subquery("ranked")
    )
    first_day, last_day = _year_bounds(year)
    r = ranked.c
    pp = PathwayParticipant.__table__.c
    complete = and_(*(pp[name].is_not(None) for name in ENTRY_FIELDS))
    age = year - r.birth_year

    def count(*conditions):
        return func.count().filter(and_(complete, *conditions))

    figures = {
        "participants": func.count(),
        "incomplete": func.count().filter(~complete),
        "unemployed": count(pp.labour_status.in_(("unemployed", "long_term_unemployed"))),
        "long_term_unemployed": count(pp.labour_status == "long_term_unemployed"),
        "inactive": count(pp.labour_status == "inactive"),
        "employed": count(pp.labour_status.in_(("employed", "self_employed"))),
        "under_18": count(r.birth_year.is_not(None), age < 18),
        "aged_18_29": count(r.birth_year.is_not(None), age >= 18, age <= 29),
        "aged_55_plus": count(r.birth_year.is_not(None), age >= 55),
        "isced_0_2": count(pp.education == "isced_0_2"),
        "isced_3_4": count(pp.education == "isced_3_4"),
        "isced_5_8": count(pp.education == "isced_5_8"),
        "disability": count(pp.disability == "yes"),
        "third_country_national": count(pp.third_country_national == "yes"),
        "foreign_background": count(pp.foreign_background == "yes"),
        "minority": count(pp.minority == "yes"),
        "homeless": count(pp.homeless == "yes"),
        "rural": count(r.territory == "rural"),
    }
    statement = (
        select(r.convention_id, r.sex, *(figure.label(name) for name, figure in figures.items()))
        .select_from(ranked.outerjoin(PathwayParticipant.__table__, pp.pathway_id == r.id))
        .where(r.rank == 1, r.entered_on >= first_day, r.entered_on <= last_day)
        .group_by(r.convention_id, r.sex)
    )
    return {
        (row.convention_id, row.sex): {name: int(getattr(row, name)) for name in figures}
        for row in session.execute(statement)
    }


def leaver_counts(session: Session, convention_ids: list[int], year: int) -> dict[tuple[int, str | None], dict]:
    """Per (convention, sex): the results on leaving and six months after."""
    p = Pathway.__table__.c
    ranked = (
        select(
            p.id,
            p.convention_id,
            p.exited_on,
            p.exit_reason,
            p.sex,
            func.row_number()
            .over(partition_by=(p.convention_id, p.person_key), order_by=(p.exited_on.desc(), p.id.desc()))
            .label("rank"),
        )
        .where(p.convention_id.in_(convention_ids), p.exited_on.is_not(None))
        .subquery("ranked")
    )
    first_day, last_day = _year_bounds(year)
    r = ranked.c
    pp = PathwayParticipant.__table__.c
    fu = FollowUp.__table__.c
    employed = r.exit_reason.in_(sorted(EMPLOYED_ON_LEAVING_REASONS))
    in_education = r.exit_reason.in_(sorted(EDUCATION_ON_LEAVING_REASONS))
    figures = {
        "job_searching_on_leaving": func.count().filter(
            ~employed, ~in_education, func.coalesce(pp.labour_status_on_leaving, "job_searching") == "job_searching"
        ),
        "in_education_on_leaving": func.count().filter(in_education),
        "qualification_on_leaving": func.count().filter(pp.qualification_gained == true()),
        "employed_on_leaving": func.count().filter(employed),
        "employed_6_months": func.count().filter(fu.situation.in_(sorted(EMPLOYED_SITUATIONS))),
        "improved_situation_6_months": func.count().filter(fu.improved_situation == true()),
    }
    statement = (
        select(r.convention_id, r.sex, *(figure.label(name) for name, figure in figures.items()))
        .select_from(
            ranked.outerjoin(PathwayParticipant.__table__, pp.pathway_id == r.id).outerjoin(
                FollowUp.__table__, fu.pathway_id == r.id
            )
        )
        .where(r.rank == 1, r.exited_on >= first_day, r.exited_on <= last_day)
        .group_by(r.convention_id, r.sex)
    )
    return {
        (row.convention_id, row.sex): {name: int(getattr(row, name)) for name in figures}
        for row in session.execute(statement)
    }


def _block(counts_by_sex: dict[str | None, dict[str, int]], min_size: int) -> dict[str, Any]:
    """A convention's (or the total's) `incomplete` and rows from its counts per sex, the cells of
    1 to `min_size` − 1 persons withheld (app/indicators/secrecy.py)."""

    def value(name: str, sex: str | None) -> int:
        return counts_by_sex.get(sex, {}).get(name, 0)

    rows = []
    for indicator in ESF_INDICATORS:
        values = {sex: value(indicator.indicator, sex) for sex in SEXES}
        values["total"] = sum(counts.get(indicator.indicator, 0) for counts in counts_by_sex.values())
        values, suppressed = secrecy.withhold_counts(values, min_size)
        row = {"indicator": indicator.indicator, "code": indicator.code, "label": indicator.label, "values": values}
        if suppressed:
            row["suppressed"] = suppressed
        rows.append(row)
    incomplete = sum(counts.get("incomplete", 0) for counts in counts_by_sex.values())
    if secrecy.is_small(incomplete, min_size):
        return {"incomplete": None, "rows": rows, "suppressed": ["incomplete"]}
    return {"incomplete": incomplete, "rows": rows}


def esf_report(
    *, session: Session, caller: Caller, year: int, convention_id: int | None = None, action: str | None = None
) -> dict[str, Any]:
    conventions = cofunded_conventions(
        session=session, caller=caller, year=year, convention_id=convention_id, action=action
    )
    # An operator key reports on its own conventions only: it sees every cell of them.
    min_size = secrecy.min_cell_size_for(caller, own_conventions_only=True)
    ids = [convention.id for convention in conventions]
    per: dict[int, dict[str | None, dict[str, int]]] = {convention_id: {} for convention_id in ids}
    total: dict[str | None, dict[str, int]] = {}
    if ids:
        for counts in (entrant_counts(session, ids, year), leaver_counts(session, ids, year)):
            for (convention, sex), figures in counts.items():
                per[convention].setdefault(sex, {}).update(figures)
                into = total.setdefault(sex, {})
                for name, number in figures.items():
                    into[name] = into.get(name, 0) + number
    return {
        "year": year,
        "conventions": [
            {"convention_id": row.id, "reference": row.reference, "action": row.action, **_block(per[row.id], min_size)}
            for row in conventions
        ],
        "total": _block(total, min_size),
    }


__all__ = ["ESF_CODES", "esf_report", "cofunded_conventions"]
