"""The demo's FSE records (SPEC C9): for the pathways of the conventions the FSE co-funds, each
participant's characteristics at entry, what the exit said of them, and the six-month follow-up,
drawn with a fixed seed so that `make run` shows a filled ESF+ report.

Plausible for people on the RSA: mostly unemployed, often for more than a year, few with a
tertiary degree; a few records left incomplete, as in real life (they show in
GET /esf/incomplete). The follow-up's situation leans on the exit reason. None of this touches
the pathways, so the bilan's figures stay the document's.
"""

import random
from datetime import date, timedelta

from sqlalchemy import exists, select
from sqlmodel import Session

from app.conventions.models import ConventionYear
from app.esf.records.models import ENTRY_FIELDS, FOLLOW_UP_WINDOW
from app.pathways.models import Pathway
from seed.demo.targets import DEMO_SEED

PARTICIPANT_COLUMNS = ("pathway_id", *ENTRY_FIELDS, "qualification_gained", "labour_status_on_leaving")
FOLLOW_UP_COLUMNS = ("pathway_id", "observed_on", "situation", "improved_situation", "created_at")

LABOUR = (("long_term_unemployed", 55), ("unemployed", 25), ("inactive", 15), ("employed", 3), ("self_employed", 2))
EDUCATION = (("isced_0_2", 55), ("isced_3_4", 38), ("isced_5_8", 7))
YES_RATES = {
    "disability": 0.09,
    "third_country_national": 0.07,
    "foreign_background": 0.14,
    "minority": 0.03,
    "homeless": 0.06,
}
AFTER_EMPLOYMENT = (
    ("employed_cdi", 30),
    ("employed_cdd_over_6m", 25),
    ("employed_short", 20),
    ("job_seeking", 15),
    ("self_employed", 5),
    ("unknown", 5),
)
AFTER_TRAINING = (
    ("training", 35),
    ("employed_short", 20),
    ("employed_cdd_over_6m", 10),
    ("job_seeking", 25),
    ("unknown", 10),
)
AFTER_OTHER = (("job_seeking", 45), ("inactive", 20), ("employed_short", 12), ("training", 8), ("unknown", 15))
EMPLOYMENT_REASONS = {
    "employment_cdi",
    "employment_cdd_over_6m",
    "business_creation",
    "civil_service",
    "employment_short",
    "iae_contract",
}


def _pick(rng: random.Random, weighted) -> str:
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def esf_rows(session: Session, *, after_pathway_id: int, today: date, now) -> tuple[list[tuple], list[tuple]]:
    """Participant and follow-up rows for the entered pathways (id > after_pathway_id) of the
    conventions that have a year with `fse_amount > 0`, in pathway order."""
    cofunded = exists().where(ConventionYear.convention_id == Pathway.convention_id, ConventionYear.fse_amount > 0)
    pathways = session.execute(
        select(Pathway.id, Pathway.exited_on, Pathway.exit_reason)
        .where(Pathway.id > after_pathway_id, Pathway.entered_on.is_not(None), cofunded)
        .order_by(Pathway.id)
    ).all()
    rng = random.Random(f"{DEMO_SEED}:esf")
    participants, follow_ups = [], []
    for pathway_id, exited_on, reason in pathways:
        labour = _pick(rng, LABOUR)
        answers = {
            name: "yes" if rng.random() < rate else ("undisclosed" if rng.random() < 0.04 else "no")
            for name, rate in YES_RATES.items()
        }
        record = [labour, _pick(rng, EDUCATION), *answers.values()]
        if rng.random() < 0.04:  # a record left incomplete
            record[rng.randrange(len(record))] = None
        qualification = leaving = None
        if exited_on is not None:
            qualification = rng.random() < (0.35 if reason in ("training", "completed") else 0.08)
            if reason not in EMPLOYMENT_REASONS and reason != "training":
                leaving = "inactive" if rng.random() < 0.2 else "job_searching"
        participants.append((pathway_id, *record, qualification, leaving))
        if exited_on is None or rng.random() > 0.75:
            continue
        observed = exited_on + timedelta(days=rng.randint(*FOLLOW_UP_WINDOW))
        if observed > today:
            continue
        weighted = (
            AFTER_EMPLOYMENT
            if reason in EMPLOYMENT_REASONS
            else AFTER_TRAINING
            if reason == "training"
            else AFTER_OTHER
        )
        situation = _pick(rng, weighted)
        improved = None if situation == "unknown" else rng.random() < (0.5 if situation.startswith("employed") else 0.1)
        follow_ups.append((pathway_id, observed, situation, improved, now))
    return participants, follow_ups
