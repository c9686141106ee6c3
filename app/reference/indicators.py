"""The indicators of SPEC: code, French label (as the bilan prints it), unit, definition.

The engine in app/indicators computes them; this table is what clients and the bilan show.
"""

from dataclasses import dataclass, replace
from enum import StrEnum

from app.reference.diagnostic_dimensions import DIMENSIONS


class Unit(StrEnum):
    count = "count"
    euros = "euros"
    rate = "rate"  # a fraction (0.53), shown as a percent
    days = "days"
    hours = "hours"  # hours a week


@dataclass(frozen=True)
class Base:
    """The persons a figure rests on (statistical secrecy, app/indicators/secrecy.py), named as
    the engine's per-group counts (`app.indicators.engine.totals.person_counts`).

    `persons`: the count the figure is computed over: the value itself for a count of persons,
    the denominator of a rate or a mean (exits for an exit rate, decisions for the refusal rate,
    diagnostics for a barrier rate, persons present for the cost per person). `part`, for a rate
    of persons: its numerator, whose persons and the rest of the base (persons − part) are
    counts of persons too, which the rate and its base published together reveal."""

    persons: str
    part: str | None = None


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str
    unit: Unit
    definition: str
    # None: not about persons (money, places, occupancy, the operators' activity counters).
    base: Base | None = None


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "places_funded",
        "Nombre places financées",
        Unit.count,
        "Somme des places des lignes annuelles de convention dont l'année rencontre la période.",
    ),
    Indicator(
        "budget",
        "Budget conventionné",
        Unit.euros,
        "Somme des budgets de ces lignes annuelles (inconnu si l'un d'eux l'est).",
    ),
    Indicator(
        "budget_fse",
        "dont FSE",
        Unit.euros,
        "Somme de la part cofinancée par le FSE de ces lignes annuelles (inconnue si l'une l'est).",
    ),
    Indicator(
        "persons_present",
        "Nombre de personnes présentes",
        Unit.count,
        "Personnes distinctes dont un parcours a une présence qui rencontre la période.",
    ),
    Indicator("entries", "Nombre d'entrées", Unit.count, "Parcours entrés pendant la période."),
    Indicator("exits", "Nombre de sorties", Unit.count, "Parcours sortis pendant la période."),
    Indicator("prescriptions", "Nombre de prescriptions", Unit.count, "Parcours prescrits pendant la période."),
    Indicator(
        "occupancy_rate",
        "Taux de réalisation de l'action",
        Unit.rate,
        "Mois d'accompagnement réalisés ÷ mois prévus par la convention, proportionnés à la date "
        "d'édition, comptés en jours (taux d'occupation). Peut dépasser 100 %.",
    ),
    Indicator(
        "dynamic_exit_rate",
        "Taux de sorties dynamiques",
        Unit.rate,
        "Sorties débouchant sur une suite de parcours effective ÷ sorties.",
    ),
    Indicator(
        "durable_employment_rate",
        "Taux de sorties en emploi durable",
        Unit.rate,
        "Sorties en CDI, CDD de plus de 6 mois, création d'entreprise ou fonction publique ÷ sorties.",
    ),
    Indicator(
        "business_creation_rate",
        "Taux de création d'entreprise",
        Unit.rate,
        "Sorties par création d'entreprise ÷ sorties.",
    ),
    Indicator(
        "completion_rate", "Taux de PEIP terminés", Unit.rate, "Sorties après un parcours mené à son terme ÷ sorties."
    ),
    Indicator(
        "hours_threshold_reached",
        "Nombre de personnes ayant atteint le nombre d'heures de mise à disposition",
        Unit.count,
        "Personnes présentes dont le parcours atteint le seuil d'heures de la convention "
        "(150 h pour une AI, 300 h pour l'ETTI).",
    ),
    Indicator(
        "mean_entry_delay_days",
        "Délai moyen d'entrée (jours)",
        Unit.days,
        "Moyenne des jours entre prescription et entrée, sur les entrées de la période.",
    ),
    Indicator(
        "decisions",
        "Nombre de réponses aux prescriptions",
        Unit.count,
        "Prescriptions acceptées ou refusées par l'opérateur, la réponse datée de la période.",
    ),
    Indicator("refusal_rate", "Taux de refus", Unit.rate, "Prescriptions refusées ÷ réponses de la période."),
    Indicator(
        "mean_decision_delay_days",
        "Délai moyen de réponse (jours)",
        Unit.days,
        "Moyenne des jours entre prescription et réponse (acceptation ou refus), sur les réponses de la période.",
    ),
    Indicator(
        "withdrawals",
        "Nombre de prescriptions retirées",
        Unit.count,
        "Prescriptions retirées par le prescripteur avant toute entrée, le retrait daté de la période.",
    ),
    Indicator(
        "expired_prescriptions",
        "Nombre de prescriptions expirées",
        Unit.count,
        "Prescriptions restées sans réponse (ou en liste d'attente) au-delà du délai, expirées pendant la période.",
    ),
    Indicator("cost_per_person", "Coût par personne présente", Unit.euros, "Budget ÷ personnes présentes."),
    Indicator("cost_per_dynamic_exit", "Coût par sortie dynamique", Unit.euros, "Budget ÷ sorties dynamiques."),
    Indicator(
        "employment_6_months_rate",
        "Taux d'emploi à 6 mois (FSE)",
        Unit.rate,
        "Suivis à six mois en emploi (CDI, CDD, intérim, indépendant) ÷ suivis dont la situation est connue, "
        "pour les sorties de la période.",
    ),
    Indicator(
        "persons_in_progress",
        "Personnes en parcours (heures d'engagement)",
        Unit.count,
        "Personnes ayant un parcours en cours (entré, non sorti avant, non annulé) le dernier jour de la période "
        "(la date d'arrêt au plus tard).",
    ),
    Indicator(
        "mean_weekly_hours",
        "Heures hebdomadaires moyennes",
        Unit.hours,
        "Moyenne, sur ces personnes, du total des heures hebdomadaires de tous leurs parcours en cours ce jour-là "
        "(celles du parcours, sinon de l'année de convention, sinon de l'action) ; les personnes dont un parcours "
        "a des heures inconnues sont écartées.",
    ),
    Indicator(
        "persons_below_target",
        "Personnes sous leur objectif d'heures",
        Unit.count,
        "Parmi ces mêmes personnes, celles dont le total est sous leur objectif ce jour-là "
        "(PDI_WEEKLY_HOURS_TARGET, sinon l'objectif abaissé du contrat d'engagement).",
    ),
    Indicator(
        "share_below_target",
        "Part sous l'objectif d'heures",
        Unit.rate,
        "Personnes sous leur objectif ÷ personnes comptées dans la moyenne.",
    ),
    Indicator(
        "vehicle_rental_days",
        "Nombre de jours de location de véhicules",
        Unit.count,
        "Jours de location de véhicules déclarés sur la période.",
    ),
    Indicator(
        "licence_registrations",
        "Nombre d'inscriptions au permis (AM + B)",
        Unit.count,
        "Inscriptions au permis déclarées sur la période.",
    ),
    Indicator(
        "licences_obtained",
        "Nombre d'obtentions du permis (AM + B)",
        Unit.count,
        "Permis obtenus déclarés sur la période.",
    ),
    Indicator(
        "computers_donated", "Nombre d'ordinateurs donnés", Unit.count, "Ordinateurs donnés déclarés sur la période."
    ),
    Indicator(
        "workshop_sessions", "Nombre de séances d'atelier", Unit.count, "Séances d'atelier déclarées sur la période."
    ),
)

# The share of the diagnostics (Depart'Parcours) that mark each dimension a barrier.
BARRIER_RATE_PREFIX = "barrier_rate_"
INDICATORS += tuple(
    Indicator(
        f"{BARRIER_RATE_PREFIX}{dimension.code}",
        f"Part des diagnostics relevant un frein : {dimension.label}",
        Unit.rate,
        f"Diagnostics établis pendant la période qui font de « {dimension.label} » un frein ÷ diagnostics "
        "établis pendant la période.",
    )
    for dimension in DIMENSIONS
)

# What each figure about persons rests on; the others (money, places, occupancy, activity
# counters) are not about persons.
_BASES: dict[str, Base] = {
    "persons_present": Base("persons_present"),
    "entries": Base("entries"),
    "exits": Base("exits"),
    "prescriptions": Base("prescriptions"),
    "dynamic_exit_rate": Base("exits", "dynamic_exits"),
    "durable_employment_rate": Base("exits", "durable_exits"),
    "business_creation_rate": Base("exits", "business_creation_exits"),
    "completion_rate": Base("exits", "completed_exits"),
    "hours_threshold_reached": Base("hours_threshold_reached"),
    "mean_entry_delay_days": Base("entries"),
    "decisions": Base("decisions"),
    "refusal_rate": Base("decisions", "refusals"),
    "mean_decision_delay_days": Base("decisions"),
    "withdrawals": Base("withdrawals"),
    "expired_prescriptions": Base("expired"),
    "cost_per_person": Base("persons_present"),
    "cost_per_dynamic_exit": Base("dynamic_exits"),
    "employment_6_months_rate": Base("follow_ups_known", "follow_ups_employed"),
    "persons_in_progress": Base("persons_in_progress"),
    "mean_weekly_hours": Base("persons_hours_counted"),
    "persons_below_target": Base("persons_below_target"),
    "share_below_target": Base("persons_hours_counted", "persons_below_target"),
    **{
        f"{BARRIER_RATE_PREFIX}{dimension.code}": Base("diagnostics", f"barriers_{dimension.code}")
        for dimension in DIMENSIONS
    },
}
INDICATORS = tuple(replace(indicator, base=_BASES.get(indicator.code)) for indicator in INDICATORS)

INDICATORS_BY_CODE: dict[str, Indicator] = {indicator.code: indicator for indicator in INDICATORS}
