"""The exit reasons of SPEC, with the three flags the indicators count on."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ExitReason:
    code: str
    label: str
    dynamic: bool  # the exit leads somewhere: counts in the taux de sortie dynamique
    durable_employment: bool  # CDI, CDD > 6 months, business creation, civil service
    completed: bool  # the pathway was carried through (taux de PEIP terminés)


EXIT_REASONS: tuple[ExitReason, ...] = (
    ExitReason("employment_cdi", "Emploi en CDI", True, True, True),
    ExitReason("employment_cdd_over_6m", "CDD de plus de 6 mois", True, True, True),
    ExitReason("business_creation", "Création d'entreprise", True, True, True),
    ExitReason("civil_service", "Stage / titularisation dans la fonction publique", True, True, True),
    ExitReason("employment_short", "Emploi de 6 mois ou moins (CDD, intérim)", True, False, True),
    ExitReason("iae_contract", "Contrat dans l'Insertion par l'Activité Économique", True, False, True),
    ExitReason("training", "Formation", True, False, True),
    ExitReason("insertion_action", "Autre action d'insertion", True, False, True),
    ExitReason("completed", "Parcours mené à son terme, sans suite ci-dessus", False, False, True),
    ExitReason("reoriented", "Réorientation (ex. vers Pôle emploi)", False, False, False),
    ExitReason("dropped_out", "Abandon", False, False, False),
    ExitReason("moved", "Déménagement", False, False, False),
    ExitReason("health", "Raisons de santé", False, False, False),
    ExitReason("rsa_ended", "Fin de droit RSA", False, False, False),
    ExitReason("other", "Autre", False, False, False),
)

EXIT_REASONS_BY_CODE: dict[str, ExitReason] = {reason.code: reason for reason in EXIT_REASONS}
DYNAMIC_REASONS = frozenset(r.code for r in EXIT_REASONS if r.dynamic)
DURABLE_EMPLOYMENT_REASONS = frozenset(r.code for r in EXIT_REASONS if r.durable_employment)
COMPLETED_REASONS = frozenset(r.code for r in EXIT_REASONS if r.completed)

# The ESF+ situation on leaving (SPEC C9), derived from the exit reason: employment, business
# creation, civil service and IAE contracts are "in employment, including self-employment";
# training is "in education or training"; any other reason leaves it to what the exit says of the
# person's labour status (`labour_status_on_leaving`: job searching by default, or inactive).
EMPLOYED = "employed"
IN_EDUCATION = "in_education"
SITUATION_ON_LEAVING: dict[str, str | None] = {
    "employment_cdi": EMPLOYED,
    "employment_cdd_over_6m": EMPLOYED,
    "business_creation": EMPLOYED,
    "civil_service": EMPLOYED,
    "employment_short": EMPLOYED,
    "iae_contract": EMPLOYED,
    "training": IN_EDUCATION,
    **{reason: None for reason in ("insertion_action", "completed", "reoriented", "dropped_out")},
    **{reason: None for reason in ("moved", "health", "rsa_ended", "other")},
}
assert set(SITUATION_ON_LEAVING) == set(EXIT_REASONS_BY_CODE), "every exit reason has its situation on leaving"
EMPLOYED_ON_LEAVING_REASONS = frozenset(
    code for code, situation in SITUATION_ON_LEAVING.items() if situation == EMPLOYED
)
EDUCATION_ON_LEAVING_REASONS = frozenset(
    code for code, situation in SITUATION_ON_LEAVING.items() if situation == IN_EDUCATION
)
