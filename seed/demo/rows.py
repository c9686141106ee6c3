"""The rows of one copy of the plan (`copy_rows`): beneficiaries and pathways, column by column.

`scale=N` writes N copies: each repeats every synthetic person's pathways with distinct
beneficiaries (their own file numbers, pseudonymised with the instance's secret), drawing the
people's characteristics and sites from its own seeded generator, so a copy's rows are the same
whatever was generated before.
"""

import random
from dataclasses import dataclass
from datetime import date, datetime

from app.core.security import pseudonymise
from seed.demo.model import ConventionInfo, SiteInfo, Stay
from seed.demo.plan import DemoPlan
from seed.demo.profiles import HOUSEHOLDS, PROFILES, Profile
from seed.demo.targets import DEMO_SEED, EDITION

REF_PREFIX = "DEMO-"

# The rows `copy_rows` gives, column by column: the writer sends them as they are.
BENEFICIARY_COLUMNS = ("ref_hash", "created_at", "updated_at")
PATHWAY_COLUMNS = (
    "convention_id",
    "beneficiary_id",
    "site_id",
    "prescribed_on",
    "entered_on",
    "planned_end_on",
    "exited_on",
    "exit_reason",
    "hours",
    "cancelled_on",
    "cancel_reason",
    "weekly_hours",
    "birth_year",
    "sex",
    "insee_code",
    "territory",
    "household",
    "self_employed",
    "created_at",
    "updated_at",
)


# SPEC C11: plausible hours a week per action number: what its pathways give a person. An ACI's
# contract is 20 to 35 hours (20 when unstated: the action's, so left null on most); an AI or
# ETTI's missions vary; the others are a few hours of workshops and appointments a week.
WEEKLY_HOURS: dict[int, tuple[float | None, ...]] = {
    1: (3, 4, 5, 6),
    2: (4, 6, 8),
    3: (6, 8, 10),
    4: (6, 8, 10, 12),
    5: (2, 3, 4, 6),
    6: (3, 4, 6),
    7: (2, 3, 4),
    8: (None, None, None, 24, 26, 35),
    9: (10, 15, 20, 26, 35),
    10: (4, 6, 8, 10),
    11: (6, 10, 15),
}


def _weekly_hours(action: int, rng: random.Random) -> float | None:
    return rng.choice(WEEKLY_HOURS.get(action, (None,)))


@dataclass
class CopyRows:
    """One copy of every synthetic person: a beneficiary row each (BENEFICIARY_COLUMNS), and their
    pathway rows (PATHWAY_COLUMNS) whose `beneficiary_id` is the position of their person in
    `beneficiaries`: ids are the database's to give, so the writer puts them in."""

    beneficiaries: list[tuple]
    pathways: list[tuple]


def copy_rows(plan: DemoPlan, copy: int, *, secret: str, now: datetime) -> CopyRows:
    """The rows of copy number `copy` (from 0): the same for the same arguments, whatever else
    was generated before (each copy draws from its own seeded generator)."""
    rng = random.Random(f"{DEMO_SEED}:copy:{copy}")
    # The hours draw from their own generator: the other columns stay what they were.
    hours_rng = random.Random(f"{DEMO_SEED}:weekly-hours:{copy}")
    number = copy * (len(plan.people) + len(plan.prescriptions))
    rows = CopyRows(beneficiaries=[], pathways=[])
    for person in plan.people:
        number += 1
        first = person.stays[0]
        site = _site_for(first.convention, rng)
        characteristics = _characteristics(person.action, _year(first.entered), site, plan.communes, rng)
        position = len(rows.beneficiaries)
        rows.beneficiaries.append((pseudonymise(f"{REF_PREFIX}{number}", secret=secret), now, now))
        for stay in person.stays:
            stay_site = site if stay is first else _site_for(stay.convention, rng)
            hours = (_weekly_hours(stay.action, hours_rng),)
            rows.pathways.append(_pathway_row(stay, position, stay_site, rng) + hours + characteristics + (now, now))
    for prescription in plan.prescriptions:
        number += 1
        site = _site_for(prescription.convention, rng)
        characteristics = _characteristics(
            prescription.action, _year(prescription.prescribed), site, plan.communes, rng
        )
        position = len(rows.beneficiaries)
        rows.beneficiaries.append((pseudonymise(f"{REF_PREFIX}{number}", secret=secret), now, now))
        cancelled = date.fromordinal(prescription.cancelled) if prescription.cancelled else None
        rows.pathways.append(
            (
                prescription.convention.id,
                position,
                site.id if site else None,
                date.fromordinal(prescription.prescribed),
                None,  # entered_on
                None,  # planned_end_on
                None,  # exited_on
                None,  # exit_reason
                None,  # hours
                cancelled,
                prescription.reason,
                _weekly_hours(prescription.action, hours_rng),
            )
            + characteristics
            + (now, now)
        )
    return rows


def _year(day: int) -> int:
    return date.fromordinal(day).year


def _site_for(convention: ConventionInfo, rng: random.Random) -> SiteInfo | None:
    return rng.choice(convention.sites) if convention.sites else None


def _characteristics(
    action: int, year: int, site: SiteInfo | None, communes: dict[str, list[str]], rng: random.Random
) -> tuple:
    """What each of a person's pathways records of them (birth_year … self_employed): someone
    living near the site, mostly, in its commune or another of its kind of territory."""
    profile = PROFILES.get(action, Profile())
    territory = site.territory if site and site.territory else rng.choice(("urban", "rural"))
    insee = site.insee_code if site else None
    if rng.random() < 0.15:  # some come from the other kind of territory
        territory = "rural" if territory == "urban" else "urban"
        insee = rng.choice(communes[territory]) if communes[territory] else None
    elif rng.random() < 0.5 and communes[territory]:
        insee = rng.choice(communes[territory])
    sex = rng.choices(("F", "M", "X"), weights=(52, 47.7, 0.3))[0]
    household = profile.household or rng.choices(tuple(HOUSEHOLDS), weights=tuple(HOUSEHOLDS.values()))[0]
    birth_year = year - round(rng.triangular(20, 63, 37))
    return (birth_year, sex, insee, territory, household, rng.random() < profile.self_employed)


def _pathway_row(stay: Stay, person: int, site: SiteInfo | None, rng: random.Random) -> tuple:
    """PATHWAY_COLUMNS from convention_id to cancel_reason."""
    profile = PROFILES.get(stay.action, Profile())
    low, mode, high = profile.entry_delay_days
    delay = round(rng.triangular(low, high, mode))
    planned_end = min(stay.convention.end, stay.entered + max(stay.intended, 28))
    if stay.exited is None:
        planned_end = max(planned_end, min(stay.convention.end, EDITION.toordinal()))
    return (
        stay.convention.id,
        person,
        site.id if site else None,
        date.fromordinal(stay.entered - delay),
        date.fromordinal(stay.entered),
        date.fromordinal(planned_end),
        date.fromordinal(stay.exited) if stay.exited is not None else None,
        stay.exit_reason,
        stay.hours,
        None,  # cancelled_on
        None,  # cancel_reason
    )
