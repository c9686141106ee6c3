"""Quick ways to put rows in the test database through the ORM (no HTTP), for tests that need a
convention or pathways to exist. Each returns the flushed row. Keep additions generic; put
domain-specific helpers in that domain's tests/<domain>/conftest.py."""

import itertools
from datetime import date
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from app.catalogue.models import Action, Family, Operator, Site
from app.conventions.models import Convention, ConventionSite, ConventionYear
from app.core.config import get_settings
from app.core.security import pseudonymise
from app.pathways.models import Beneficiary, Pathway

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


def _add(session: Session, row):
    session.add(row)
    session.flush()
    return row


def row_counts(session: Session, *models) -> dict[str, int]:
    """How many rows each table holds: equal before and after a refused write = nothing stored."""
    return {model.__name__: session.exec(select(func.count()).select_from(model)).one() for model in models}


def family(session: Session, **fields) -> Family:
    fields.setdefault("code", unique("fam"))
    fields.setdefault("name", "Famille de test")
    return _add(session, Family(**fields))


def action(session: Session, **fields) -> Action:
    if "family_id" not in fields:
        fields["family_id"] = family(session).id
    fields.setdefault("code", unique("act"))
    fields.setdefault("number", 1000 + next(_counter))
    fields.setdefault("name", "Action de test")
    return _add(session, Action(**fields))


def operator(session: Session, **fields) -> Operator:
    fields.setdefault("name", unique("Opérateur"))
    return _add(session, Operator(**fields))


def site(session: Session, **fields) -> Site:
    if "operator_id" not in fields:
        fields["operator_id"] = operator(session).id
    fields.setdefault("name", unique("Site"))
    fields.setdefault("commune", "Le Mans")
    return _add(session, Site(**fields))


def convention(
    session: Session,
    *,
    years: dict[int, dict] | None = None,
    site_ids: list[int] = (),
    **fields,
) -> Convention:
    """A convention; `years={2019: {"places": 10}}` adds its yearly lines."""
    if "action_id" not in fields:
        fields["action_id"] = action(session).id
    if "operator_id" not in fields:
        fields["operator_id"] = operator(session).id
    fields.setdefault("reference", unique("CONV"))
    fields.setdefault("start_on", date(2018, 1, 1))
    fields.setdefault("end_on", date(2020, 12, 31))
    row = _add(session, Convention(**fields))
    for year, line in (years or {}).items():
        line = dict(line)
        for money in ("budget", "fse_amount"):
            if line.get(money) is not None:
                line[money] = Decimal(str(line[money]))
        _add(session, ConventionYear(convention_id=row.id, year=year, **line))
    for site_id in site_ids:
        _add(session, ConventionSite(convention_id=row.id, site_id=site_id))
    return row


def beneficiary(session: Session, ref: str | None = None, **fields) -> Beneficiary:
    ref = ref or unique("RSA")
    return _add(session, Beneficiary(ref_hash=pseudonymise(ref, secret=get_settings().secret_key), **fields))


def pathway(session: Session, *, convention_id: int, beneficiary_id: int | None = None, **fields) -> Pathway:
    if beneficiary_id is None:
        beneficiary_id = beneficiary(session).id
    fields.setdefault("prescribed_on", fields.get("entered_on") or date(2019, 1, 1))
    return _add(session, Pathway(convention_id=convention_id, beneficiary_id=beneficiary_id, **fields))
