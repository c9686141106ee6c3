"""The département's grants as open data: the SCDL subventions format 2.1.1 (SPEC C12).

Décret 2017-779 asks a collectivité to publish the essential data of its grant agreements; the
SCDL (socle commun des données locales) "subventions" Table Schema is the format data.gouv.fr
validates them against (formats/scdl-subventions-2.1.1.schema.json, with its custom checks: the
SIRETs' check digits, a beneficiary's SIRET or RNA).

One row per convention year of the year asked with an agreed budget: the convention is the
agreement, the year's budget its amount for that year. A year that cannot make a valid row (an
operator with no SIRET, a convention with no signature date) is left out, and said so.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from app.catalogue.models import Action, Operator
from app.catalogue.schemas import is_valid_siret
from app.conventions.models import BudgetKind, Convention, ConventionStatus, ConventionYear

# The schema's columns, in its order (a file may not leave one out, even an empty one).
COLUMNS = (
    "nomAttribuant",
    "idAttribuant",
    "dateConvention",
    "referenceDecision",
    "nomBeneficiaire",
    "idBeneficiaire",
    "rnaBeneficiaire",
    "objet",
    "montant",
    "nature",
    "conditionsVersement",
    "datesPeriodeVersement",
    "idRAE",
    "notificationUE",
    "pourcentageSubvention",
    "dispositifAide",
)
OBJECT_MAX = 256
NATURE = "aide en numéraire"
# A PDI convention pays its yearly budget in instalments (an advance, then the balance on the
# year's bilan).
PAYMENT_CONDITIONS = "échelonné"
SCHEME = "Programme départemental d'insertion"
FSE_NOTE = "cofinancé par le FSE+"


@dataclass(frozen=True)
class Grantor:
    name: str
    siret: str


@dataclass(frozen=True)
class LeftOut:
    convention_id: int
    reference: str
    year: int
    reason: str


@dataclass(frozen=True)
class Grants:
    rows: list[dict[str, str]]
    left_out: list[LeftOut]


def grants(*, session: Session, grantor: Grantor, year: int, min_amount: Decimal | None) -> Grants:
    statement = (
        select(ConventionYear, Convention, Action, Operator)
        .join(Convention, Convention.id == ConventionYear.convention_id)
        .join(Action, Action.id == Convention.action_id)
        .join(Operator, Operator.id == Convention.operator_id)
        .where(
            ConventionYear.year == year,
            ConventionYear.budget_kind == BudgetKind.agreed,
            ConventionYear.budget.is_not(None),
            # A draft was never granted, a cancelled one withdrawn.
            Convention.status.in_((ConventionStatus.active, ConventionStatus.ended)),
        )
        .order_by(Convention.reference, Convention.id)
    )
    if min_amount is not None:
        statement = statement.where(ConventionYear.budget >= min_amount)
    rows: list[dict[str, str]] = []
    left_out: list[LeftOut] = []
    for line, convention, action, operator in session.execute(statement).all():
        reason = _why_left_out(convention=convention, operator=operator)
        if reason is not None:
            left_out.append(LeftOut(convention.id, convention.reference, year, reason))
            continue
        rows.append(_row(grantor=grantor, line=line, convention=convention, action=action, operator=operator))
    return Grants(rows=rows, left_out=left_out)


def _why_left_out(*, convention: Convention, operator: Operator) -> str | None:
    if operator.siret is None:
        return f"the operator {operator.id} has no SIRET (idBeneficiaire)"
    if not is_valid_siret(operator.siret):
        return f"the operator {operator.id}'s SIRET fails its check digit (idBeneficiaire)"
    if convention.signed_on is None:
        return "the convention has no signature date, signed_on (dateConvention)"
    return None


def _row(*, grantor: Grantor, line: ConventionYear, convention: Convention, action: Action, operator: Operator):
    first = max(convention.start_on, date(line.year, 1, 1))
    last = min(convention.end_on, date(line.year, 12, 31))
    return {
        "nomAttribuant": grantor.name,
        "idAttribuant": grantor.siret,
        "dateConvention": convention.signed_on.isoformat(),
        "referenceDecision": convention.decision_reference or "",
        "nomBeneficiaire": operator.name,
        "idBeneficiaire": operator.siret,
        "rnaBeneficiaire": "",
        "objet": object_of(action=action.name, year=line.year, reference=convention.reference, fse=line.fse_amount),
        "montant": f"{line.budget:.2f}",
        "nature": NATURE,
        "conditionsVersement": PAYMENT_CONDITIONS,
        "datesPeriodeVersement": f"{first.isoformat()}/{last.isoformat()}",
        "idRAE": "",
        "notificationUE": "non",
        "pourcentageSubvention": "1",
        "dispositifAide": SCHEME,
    }


def object_of(*, action: str, year: int, reference: str, fse: Decimal | None) -> str:
    """ "<action> – <year> – convention <reference>[ – cofinancé par le FSE+]", within the schema's
    256 characters: the action's name is what gets shortened."""
    tail = f" – {year} – convention {reference}" + (f" – {FSE_NOTE}" if fse is not None and fse > 0 else "")
    room = OBJECT_MAX - len(tail)
    name = " ".join(action.split())
    if len(name) > room:
        name = name[: room - 1].rstrip() + "…"
    return name + tail


def to_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
