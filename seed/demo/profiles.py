"""How each action's people and pathways look where the document says nothing: invented, plausible.

A `Profile` per action number gives the stay lengths when the catalogue has none, the share of
each kind of exit when the document gives no rate, the delay between prescription and entry, and
who the beneficiaries are (household, self-employment). The figures the demo must reach are in
targets.py; these only shape what the figures leave free.
"""

from dataclasses import dataclass

DURABLE = ("employment_cdi", "employment_cdd_over_6m", "business_creation", "civil_service")
DYNAMIC_ONLY = ("employment_short", "iae_contract", "training", "insertion_action")
NOT_COMPLETED = ("reoriented", "dropped_out", "moved", "health", "rsa_ended", "other")


@dataclass(frozen=True)
class Profile:
    durations: tuple[int, int] | None = None  # months, when the catalogue gives none
    early_exit_months: int | None = None  # an exit may come this early (below the minimum)
    # share of exits when the document gives no rate: dynamic ⊇ durable; completed ⊇ dynamic
    dynamic: float = 0.4
    durable: float = 0.1
    completed: float = 0.6
    business_in_durable: float = 0.05
    durable_weights: tuple[float, ...] = (3, 4, 0.3, 0.5)  # as DURABLE, business creation third
    dynamic_weights: tuple[float, ...] = (4, 2, 3, 3)  # as DYNAMIC_ONLY
    not_completed_weights: tuple[float, ...] = (3, 3, 1, 2, 2, 1)  # as NOT_COMPLETED
    entry_delay_days: tuple[int, int, int] = (3, 14, 60)  # prescription → entry: low, mode, high
    household: str | None = None  # everyone's, when the action is for one kind of household
    self_employed: float = 0.0


PROFILES: dict[int, Profile] = {
    # référent RSA for single people without children: a follow-up of months to years
    1: Profile(
        (6, 36),
        dynamic=0.3,
        durable=0.08,
        completed=0.5,
        household="single_no_child",
        not_completed_weights=(4, 2, 2, 2, 3, 1),
    ),
    # self-employed people; many are redirected to Pôle emploi or leave the RSA
    2: Profile(
        (6, 36),
        dynamic=0.25,
        durable=0.12,
        completed=0.35,
        business_in_durable=0.0,
        not_completed_weights=(6, 2, 1, 1, 4, 1),
        self_employed=1.0,
    ),
    # a one-month diagnostic that leads to another insertion action
    3: Profile(dynamic=0.55, durable=0.02, dynamic_weights=(1, 1, 2, 6), not_completed_weights=(2, 5, 1, 2, 0, 1)),
    4: Profile(dynamic_weights=(3, 3, 4, 4), not_completed_weights=(2, 3, 1, 3, 1, 1), entry_delay_days=(7, 30, 62)),
    5: Profile((3, 36), dynamic=0.45, durable=0.15, completed=0.7),
    6: Profile(dynamic=0.25, durable=0.03, completed=0.75, dynamic_weights=(2, 0, 3, 4), entry_delay_days=(5, 21, 62)),
    # maisons relais: long stays, few departures
    7: Profile(
        (6, 72), dynamic=0.2, durable=0.05, completed=0.6, household="single_no_child", dynamic_weights=(1, 1, 1, 5)
    ),
    8: Profile(dynamic_weights=(4, 2, 3, 1)),
    9: Profile(early_exit_months=3, dynamic_weights=(6, 2, 2, 1)),
    10: Profile((3, 24), dynamic_weights=(5, 1, 2, 1), durable_weights=(4, 5, 0.3, 0.5)),
    11: Profile((3, 24), durable_weights=(1, 1, 0, 0.2), dynamic_weights=(2, 0, 2, 1), self_employed=0.35),
}
HOUSEHOLDS = {"single_no_child": 45, "single_with_children": 28, "couple_no_child": 9, "couple_with_children": 18}
CANCEL_REASONS = (
    "Personne injoignable",
    "Refus de la personne",
    "Reprise d'emploi avant l'entrée",
    "Orientation vers une autre action",
    "Déménagement",
)
