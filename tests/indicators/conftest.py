"""A small programme built by hand, whose figures the tests compute by hand.

Family "bilan test" (position 900), two actions:
- A1, forecast budgets: convention C1 (operator "Alpha Insertion", reference …-B, 2019–2020,
  2 places a year, 1 200 € a year) and C2 (operator "Zeta Emploi", reference …-A, 2020 only,
  1 place, 600 €). Pathways in C1: b1 from 2019-01-01 to 2019-12-31 (CDI), b2 from
  2019-07-01, still there.
- A2, agreed budgets: C3 (operator "Alpha Insertion"), 2019: 1 000 € of which 400 € FSE,
  threshold 10 h; 2020: budget unknown, threshold 10 h. b3 (rural) prescribed 2019-02-20,
  entered 2019-03-01, 12 h, still there. Vehicle rental days: 7 on 2019-05-01, 3 on
  2019-12-31, 5 on 2020-07-01.
"""

from dataclasses import dataclass
from datetime import date

import pytest

from app.catalogue.models import Action
from app.pathways.models import ActivityRecord
from tests import factories

A1_INDICATORS = ["places_funded", "budget", "persons_present", "occupancy_rate", "exits", "dynamic_exit_rate"]
A2_INDICATORS = ["budget", "budget_fse", "hours_threshold_reached", "vehicle_rental_days", "mean_entry_delay_days"]


@dataclass
class Programme:
    family_code: str
    a1: Action
    a2: Action
    c1: int
    c2: int
    c3: int
    alpha: int  # operator ids
    zeta: int


@pytest.fixture
def programme(session) -> Programme:
    family = factories.family(session, name="Bilan test", position=900)
    code = factories.unique("bilan")  # a1's code sorts before a2's
    a1 = factories.action(
        session,
        family_id=family.id,
        code=f"{code}-a1",
        name="Départ test",
        description="Une action de test.",
        indicators=A1_INDICATORS,
    )
    a2 = factories.action(session, family_id=family.id, code=f"{code}-a2", name="Emploi test", indicators=A2_INDICATORS)
    alpha = factories.operator(session, name="Alpha Insertion")
    zeta = factories.operator(session, name="Zeta Emploi")
    reference = factories.unique("BILAN")
    c1 = factories.convention(
        session,
        action_id=a1.id,
        operator_id=alpha.id,
        reference=f"{reference}-B",
        start_on=date(2019, 1, 1),
        end_on=date(2020, 12, 31),
        years={
            2019: {"places": 2, "budget": 1200, "budget_kind": "forecast", "targets": {"persons_present": 3}},
            2020: {"places": 2, "budget": 1200, "budget_kind": "forecast"},
        },
    )
    c2 = factories.convention(
        session,
        action_id=a1.id,
        operator_id=zeta.id,
        reference=f"{reference}-A",
        start_on=date(2020, 1, 1),
        end_on=date(2020, 12, 31),
        years={2020: {"places": 1, "budget": 600, "budget_kind": "forecast"}},
    )
    c3 = factories.convention(
        session,
        action_id=a2.id,
        operator_id=alpha.id,
        reference=f"{reference}-C",
        start_on=date(2019, 1, 1),
        end_on=date(2020, 12, 31),
        years={
            2019: {"budget": 1000, "fse_amount": 400, "hours_threshold": 10},
            2020: {"budget": None, "hours_threshold": 10},
        },
    )
    b1, b2, b3 = (factories.beneficiary(session) for _ in range(3))
    factories.pathway(
        session,
        convention_id=c1.id,
        beneficiary_id=b1.id,
        territory="urban",
        entered_on=date(2019, 1, 1),
        exited_on=date(2019, 12, 31),
        exit_reason="employment_cdi",
    )
    factories.pathway(
        session, convention_id=c1.id, beneficiary_id=b2.id, territory="urban", entered_on=date(2019, 7, 1)
    )
    factories.pathway(
        session,
        convention_id=c3.id,
        beneficiary_id=b3.id,
        territory="rural",
        prescribed_on=date(2019, 2, 20),
        entered_on=date(2019, 3, 1),
        hours=12,
    )
    for on, quantity in ((date(2019, 5, 1), 7), (date(2019, 12, 31), 3), (date(2020, 7, 1), 5)):
        session.add(
            ActivityRecord(convention_id=c3.id, recorded_on=on, metric="vehicle_rental_days", quantity=quantity)
        )
    session.flush()
    session.commit()
    return Programme(family.code, a1, a2, c1.id, c2.id, c3.id, alpha.id, zeta.id)
