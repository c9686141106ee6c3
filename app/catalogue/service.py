"""Rules of the catalogue: families, actions, operators and their sites.

Functions return read models, built while the session is open. Uniqueness is checked here
for a clear message; the database's unique constraints still guard the race between clients.
"""

from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from app.audit.service import record
from app.auth.models import ApiKey
from app.catalogue.models import Action, Family, Operator, Site, Territory
from app.catalogue.schemas import (
    ActionCreate,
    ActionRead,
    ActionUpdate,
    FamilyCreate,
    FamilyRead,
    FamilyUpdate,
    OperatorCreate,
    OperatorRead,
    OperatorUpdate,
    SiteCreate,
    SiteRead,
    SiteUpdate,
)
from app.conventions.models import Convention, ConventionSite, ConventionYear
from app.core.caller import Caller
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.etag import check_if_match
from app.core.pagination import Page, PageParams, paginate, paginate_rows
from app.core.text import equals, matches
from app.periods.service import ensure_open


def _exists(session: Session, statement) -> bool:
    return session.execute(select(statement.exists())).scalar_one()


def _apply(row, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)


# --- families ---------------------------------------------------------------------------


def _locked(statement, for_update: bool):
    """Lock the row read until commit when the caller is about to write it: a write compares the
    client's `If-Match` with a version no other writer can change meanwhile."""
    return statement.with_for_update().execution_options(populate_existing=True) if for_update else statement


def _family_row(*, session: Session, code: str, for_update: bool = False) -> Family:
    family = session.execute(_locked(select(Family).where(Family.code == code), for_update)).scalar_one_or_none()
    if family is None:
        raise NotFound(f"Family {code!r} does not exist")
    return family


def _ensure_family_code_free(*, session: Session, code: str, family_id: int | None = None) -> None:
    statement = select(Family.id).where(Family.code == code, Family.id != family_id)
    if _exists(session, statement):
        raise Conflict(f"A family with code {code!r} already exists")


def list_families(*, session: Session, page: PageParams) -> Page[FamilyRead]:
    statement = select(Family).order_by(Family.position, Family.code)
    rows, total = paginate(session, statement, page)
    return Page.of([FamilyRead.model_validate(row) for row in rows], total, page)


def get_family(*, session: Session, code: str) -> FamilyRead:
    return FamilyRead.model_validate(_family_row(session=session, code=code))


def create_family(*, session: Session, caller: Caller, data: FamilyCreate) -> FamilyRead:
    _ensure_family_code_free(session=session, code=data.code)
    family = Family(**data.model_dump())
    session.add(family)
    session.flush()
    record(
        session=session,
        caller=caller,
        entity="family",
        entity_id=family.code,
        action="create",
        fields=data.model_fields_set,
    )
    return FamilyRead.model_validate(family)


def update_family(
    *, session: Session, caller: Caller, code: str, data: FamilyUpdate, if_match: str | None
) -> FamilyRead:
    family = _family_row(session=session, code=code, for_update=True)
    check_if_match(if_match, FamilyRead.model_validate(family))
    changes = data.model_dump(exclude_unset=True)
    if "code" in changes:
        _ensure_family_code_free(session=session, code=changes["code"], family_id=family.id)
    _apply(family, changes)
    session.add(family)
    session.flush()
    record(
        session=session, caller=caller, entity="family", entity_id=family.code, action="update", fields=changes.keys()
    )
    return FamilyRead.model_validate(family)


def delete_family(*, session: Session, caller: Caller, code: str) -> None:
    family = _family_row(session=session, code=code, for_update=True)
    if _exists(session, select(Action.id).where(Action.family_id == family.id)):
        raise Conflict(f"Family {code!r} still has actions; move or delete them first")
    session.delete(family)
    session.flush()
    record(session=session, caller=caller, entity="family", entity_id=code, action="delete")


# --- actions ----------------------------------------------------------------------------


def _action_row(*, session: Session, code: str, for_update: bool = False) -> Action:
    action = session.execute(_locked(select(Action).where(Action.code == code), for_update)).scalar_one_or_none()
    if action is None:
        raise NotFound(f"Action {code!r} does not exist")
    return action


def _action_read(*, session: Session, action: Action) -> ActionRead:
    family_code = session.execute(select(Family.code).where(Family.id == action.family_id)).scalar_one()
    return _action_read_with(action, family_code)


def _action_read_with(action: Action, family_code: str) -> ActionRead:
    fields = {name: getattr(action, name) for name in ActionRead.model_fields if name != "family"}
    return ActionRead.model_validate(fields | {"family": family_code})


def _family_id_for(*, session: Session, code: str) -> int:
    family_id = session.execute(select(Family.id).where(Family.code == code)).scalar_one_or_none()
    if family_id is None:
        raise InvalidInput(f"Family {code!r} does not exist", loc=["body", "family"])
    return family_id


def _check_action(*, session: Session, action_id: int | None, values: dict[str, Any]) -> None:
    """The rules on an action as it would be stored (a create, or an update merged with the row)."""
    low, high = values.get("min_duration_months"), values.get("max_duration_months")
    if low is not None and high is not None and low > high:
        raise InvalidInput(
            f"min_duration_months ({low}) is above max_duration_months ({high})",
            loc=["body", "max_duration_months"],
        )
    others = select(Action.id).where(Action.id != action_id)
    if _exists(session, others.where(Action.code == values["code"])):
        raise Conflict(f"An action with code {values['code']!r} already exists")
    if _exists(session, others.where(Action.number == values["number"])):
        raise Conflict(f"An action with number {values['number']} already exists")


# The family's code comes with each action (a join), not from a query per page. Built once:
# constructing it took a sixteenth of the request (py-spy, `GET /actions`).
_ACTIONS_WITH_FAMILY_CODE = (
    select(Action, Family.code).join(Family, Family.id == Action.family_id).order_by(Action.number)
)


def list_actions(
    *,
    session: Session,
    page: PageParams,
    family: str | None = None,
    operator_id: int | None = None,
    territory: Territory | None = None,
    q: str | None = None,
) -> Page[ActionRead]:
    statement = _ACTIONS_WITH_FAMILY_CODE
    if family is not None:
        statement = statement.where(Action.family_id.in_(select(Family.id).where(Family.code == family)))
    if operator_id is not None:
        statement = statement.where(
            select(Convention.id)
            .where(Convention.action_id == Action.id, Convention.operator_id == operator_id)
            .exists()
        )
    if territory is not None:
        statement = statement.where(
            select(Convention.id)
            .join(ConventionSite, ConventionSite.convention_id == Convention.id)
            .join(Site, Site.id == ConventionSite.site_id)
            .where(Convention.action_id == Action.id, Site.territory == territory.value)
            .exists()
        )
    if q:
        statement = statement.where(
            or_(matches(Action.name, q), matches(Action.description, q), matches(Action.code, q))
        )
    rows, total = paginate_rows(session, statement, page)
    items = [_action_read_with(action, family_code) for action, family_code in rows]
    return Page.of(items, total, page)


def action_reads(*, session: Session, actions) -> list[ActionRead]:
    """Read models of several actions: one query for their families' codes, not one per action."""
    family_ids = {action.family_id for action in actions}
    codes = dict(session.execute(select(Family.id, Family.code).where(Family.id.in_(family_ids))).all())
    return [_action_read_with(action, codes[action.family_id]) for action in actions]


def get_action(*, session: Session, code: str) -> ActionRead:
    return _action_read(session=session, action=_action_row(session=session, code=code))


def create_action(*, session: Session, caller: Caller, data: ActionCreate) -> ActionRead:
    family_id = _family_id_for(session=session, code=data.family)
    values = data.model_dump(exclude={"family"})
    _check_action(session=session, action_id=None, values=values)
    action = Action(**values, family_id=family_id)
    session.add(action)
    session.flush()
    record(
        session=session,
        caller=caller,
        entity="action",
        entity_id=action.code,
        action="create",
        fields=data.model_fields_set,
    )
    return _action_read(session=session, action=action)


def update_action(
    *, session: Session, caller: Caller, code: str, data: ActionUpdate, if_match: str | None
) -> ActionRead:
    action = _action_row(session=session, code=code, for_update=True)
    check_if_match(if_match, _action_read(session=session, action=action))
    changes = data.model_dump(exclude_unset=True)
    values = {name: value for name, value in changes.items() if name != "family"}
    if "family" in changes:
        values["family_id"] = _family_id_for(session=session, code=changes["family"])
    if values.get("family_id", action.family_id) != action.family_id or (
        "indicators" in values and values["indicators"] != action.indicators
    ):
        # The family's figures and the action's bilan table of every year the action was funded.
        ensure_open(session=session, years=_funded_years(session=session, action_id=action.id))
    # Check the merged result before touching the row, so that a refused update leaves it as it was.
    current = {name: getattr(action, name) for name in ("code", "number", "min_duration_months", "max_duration_months")}
    _check_action(session=session, action_id=action.id, values=current | values)
    _apply(action, values)
    session.add(action)
    session.flush()
    record(
        session=session, caller=caller, entity="action", entity_id=action.code, action="update", fields=changes.keys()
    )
    return _action_read(session=session, action=action)


def _funded_years(*, session: Session, action_id: int) -> list[int]:
    statement = (
        select(ConventionYear.year)
        .join(Convention, Convention.id == ConventionYear.convention_id)
        .where(Convention.action_id == action_id)
        .distinct()
    )
    return list(session.execute(statement).scalars())


def delete_action(*, session: Session, caller: Caller, code: str) -> None:
    action = _action_row(session=session, code=code, for_update=True)
    if _exists(session, select(Convention.id).where(Convention.action_id == action.id)):
        raise Conflict(f"Action {code!r} is referenced by conventions; it cannot be deleted")
    session.delete(action)
    session.flush()
    record(session=session, caller=caller, entity="action", entity_id=code, action="delete")


# --- operators --------------------------------------------------------------------------


def _operator_row(*, session: Session, operator_id: int, for_update: bool = False) -> Operator:
    operator = session.get(Operator, operator_id, with_for_update=for_update, populate_existing=for_update)
    if operator is None:
        raise NotFound(f"Operator {operator_id} does not exist")
    return operator


def _ensure_siret_free(*, session: Session, siret: str | None, operator_id: int | None = None) -> None:
    if siret is None:
        return
    if _exists(session, select(Operator.id).where(Operator.siret == siret, Operator.id != operator_id)):
        raise Conflict(f"An operator with SIRET {siret} already exists")


def list_operators(
    *,
    session: Session,
    page: PageParams,
    action: str | None = None,
    commune: str | None = None,
    q: str | None = None,
) -> Page[OperatorRead]:
    statement = select(Operator).order_by(Operator.name, Operator.id)
    if action is not None:
        statement = statement.where(
            select(Convention.id)
            .join(Action, Action.id == Convention.action_id)
            .where(Convention.operator_id == Operator.id, Action.code == action)
            .exists()
        )
    if commune and commune.strip():
        statement = statement.where(
            or_(
                equals(Operator.commune, commune),
                select(Site.id).where(Site.operator_id == Operator.id, equals(Site.commune, commune)).exists(),
            )
        )
    if q:
        statement = statement.where(matches(Operator.name, q))
    rows, total = paginate(session, statement, page)
    return Page.of([OperatorRead.model_validate(row) for row in rows], total, page)


def get_operator(*, session: Session, operator_id: int) -> OperatorRead:
    return OperatorRead.model_validate(_operator_row(session=session, operator_id=operator_id))


def create_operator(*, session: Session, caller: Caller, data: OperatorCreate) -> OperatorRead:
    _ensure_siret_free(session=session, siret=data.siret)
    operator = Operator(**data.model_dump())
    session.add(operator)
    session.flush()
    record(
        session=session,
        caller=caller,
        entity="operator",
        entity_id=operator.id,
        action="create",
        fields=data.model_fields_set,
    )
    return OperatorRead.model_validate(operator)


def update_operator(
    *, session: Session, caller: Caller, operator_id: int, data: OperatorUpdate, if_match: str | None
) -> OperatorRead:
    operator = _operator_row(session=session, operator_id=operator_id, for_update=True)
    check_if_match(if_match, OperatorRead.model_validate(operator))
    changes = data.model_dump(exclude_unset=True)
    if "siret" in changes:
        _ensure_siret_free(session=session, siret=changes["siret"], operator_id=operator.id)
    _apply(operator, changes)
    session.add(operator)
    session.flush()
    record(
        session=session, caller=caller, entity="operator", entity_id=operator.id, action="update", fields=changes.keys()
    )
    return OperatorRead.model_validate(operator)


def delete_operator(*, session: Session, caller: Caller, operator_id: int) -> None:
    operator = _operator_row(session=session, operator_id=operator_id, for_update=True)
    for what, statement in (
        ("conventions", select(Convention.id).where(Convention.operator_id == operator_id)),
        ("sites", select(Site.id).where(Site.operator_id == operator_id)),
        ("API keys", select(ApiKey.id).where(ApiKey.operator_id == operator_id)),
    ):
        if _exists(session, statement):
            raise Conflict(f"Operator {operator_id} still has {what}; it cannot be deleted")
    session.delete(operator)
    session.flush()
    record(session=session, caller=caller, entity="operator", entity_id=operator_id, action="delete")


# --- sites ------------------------------------------------------------------------------


def list_sites(*, session: Session, operator_id: int, page: PageParams) -> Page[SiteRead]:
    _operator_row(session=session, operator_id=operator_id)
    statement = select(Site).where(Site.operator_id == operator_id).order_by(Site.name, Site.id)
    rows, total = paginate(session, statement, page)
    return Page.of([SiteRead.model_validate(row) for row in rows], total, page)


def create_site(*, session: Session, caller: Caller, operator_id: int, data: SiteCreate) -> SiteRead:
    _operator_row(session=session, operator_id=operator_id)
    site = Site(**data.model_dump(), operator_id=operator_id)
    session.add(site)
    session.flush()
    record(
        session=session, caller=caller, entity="site", entity_id=site.id, action="create", fields=data.model_fields_set
    )
    return SiteRead.model_validate(site)


def update_site(*, session: Session, caller: Caller, site_id: int, data: SiteUpdate) -> SiteRead:
    """Change a site's fields; its coordinates must stay given together, or not at all."""
    site = session.get(Site, site_id, with_for_update=True, populate_existing=True)
    if site is None:
        raise NotFound(f"Site {site_id} does not exist")
    changes = data.model_dump(exclude_unset=True)
    latitude, longitude = changes.get("latitude", site.latitude), changes.get("longitude", site.longitude)
    if (latitude is None) != (longitude is None):
        raise InvalidInput(
            "give latitude and longitude together, or neither",
            loc=["body", "latitude" if "latitude" in changes else "longitude"],
        )
    _apply(site, changes)
    session.add(site)
    session.flush()
    record(session=session, caller=caller, entity="site", entity_id=site.id, action="update", fields=changes.keys())
    return SiteRead.model_validate(site)
