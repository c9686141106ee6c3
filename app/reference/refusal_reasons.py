"""Why an operator refuses a prescription (SPEC C7): codes and French labels."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RefusalReason:
    code: str
    label: str


REFUSAL_REASONS: tuple[RefusalReason, ...] = (
    RefusalReason("session_full", "Action complète"),
    RefusalReason("not_eligible", "Ne répond pas aux critères"),
    RefusalReason("not_reachable", "Injoignable"),
    RefusalReason("did_not_come", "Absent au rendez-vous"),
    RefusalReason("not_interested", "Ne souhaite pas s'engager"),
    RefusalReason("incompatible", "Incompatible avec sa situation"),
    RefusalReason("other_action", "Orienté vers une autre action"),
    RefusalReason("duplicate", "Doublon"),
    RefusalReason("other", "Autre"),
)

REFUSAL_REASON_CODES: tuple[str, ...] = tuple(reason.code for reason in REFUSAL_REASONS)
