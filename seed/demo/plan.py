"""The whole data set's plan (`plan_demo`): every action's stays, the people, prescriptions, activity.

Pure Python and deterministic: it reads nothing but the catalogue it is given and returns a
`DemoPlan`, the same on every run; rows.py turns it into rows, writer.py writes them. Activity
counts of Depart'Mobilité are spread over the months.
"""

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from seed.demo.model import ActionInfo, ConventionInfo, DemoInfeasible, Stay
from seed.demo.outcomes import assign_exit_reasons, assign_hours
from seed.demo.planner import ActionPlanner
from seed.demo.profiles import CANCEL_REASONS, PROFILES, Profile
from seed.demo.targets import ACTIVITY_CODES, DEMO_SEED, EDITION, TARGETS, YEARS, largest_remainder


@dataclass
class Person:
    """A synthetic beneficiary and their pathways (a few go on from Depart'Parcours elsewhere)."""

    number: int
    stays: list[Stay] = field(default_factory=list)
    action: int = 0


@dataclass
class Prescription:
    """A pathway that was never entered: cancelled, or still waiting at the end of 2020."""

    convention: ConventionInfo
    prescribed: int
    cancelled: int | None
    reason: str | None
    action: int


@dataclass
class DemoPlan:
    stays: dict[int, list[Stay]]  # action number → stays
    prescriptions: list[Prescription]
    activity: list[tuple[ConventionInfo, int, str, int]]  # convention, day, metric, quantity
    people: list[Person]
    # where beneficiaries live: the INSEE codes of the seed's sites by territory, once per site
    communes: dict[str, list[str]]


def plan_demo(catalogue: dict[int, ActionInfo]) -> DemoPlan:
    missing = sorted(set(TARGETS) - {n for n, a in catalogue.items() if a.conventions})
    if missing:
        raise DemoInfeasible(f"the catalogue has no conventions for actions {missing}: run `pdi seed` first")
    stays: dict[int, list[Stay]] = {}
    for number, action in sorted(catalogue.items()):
        if not action.conventions:
            continue
        profile = PROFILES.get(number, Profile())
        planner = ActionPlanner(action, TARGETS.get(number, {}), profile)
        action_stays = planner.plan()
        rng = random.Random(f"{DEMO_SEED}:reasons:{number}")
        assign_exit_reasons(action_stays, planner, rng)
        if "hours_threshold_reached" in TARGETS.get(number, {}):
            assign_hours(action_stays, TARGETS[number]["hours_threshold_reached"], rng)
        action_stays.sort(key=lambda stay: (stay.entered, stay.convention.reference, stay.exited or 0))
        stays[number] = action_stays
    people = _people(stays)
    prescriptions = _prescriptions(catalogue, stays)
    activity = _activity(catalogue)
    sites = {site.id: site for action in catalogue.values() for c in action.conventions for site in c.sites}
    communes: dict[str, list[str]] = {"urban": [], "rural": []}
    for site in sorted(sites.values(), key=lambda site: site.id):
        if site.insee_code and site.territory in communes:
            communes[site.territory].append(site.insee_code)
    return DemoPlan(stays, prescriptions, activity, people, communes)


def _people(stays: dict[int, list[Stay]]) -> list[Person]:
    """One person per stay, except that some who finished Depart'Parcours (action 3) with a next
    step are the ones who enter a later action (the diagnostic's purpose)."""
    rng = random.Random(f"{DEMO_SEED}:people")
    people: list[Person] = []
    owner: dict[int, Person] = {}
    for number in sorted(stays):
        for stay in stays[number]:
            person = Person(len(people) + 1, [stay], number)
            people.append(person)
            owner[id(stay)] = person
    onward = sorted(
        (s for s in stays.get(3, []) if s.exit_reason in ("insertion_action", "training", "completed")),
        key=lambda stay: stay.exited,
    )
    downstream = sorted(
        (s for n in (4, 5, 6, 8, 9, 10, 11) for s in stays.get(n, []) if s.entered > date(2018, 3, 1).toordinal()),
        key=lambda stay: (stay.entered, stay.convention.reference),
    )
    available: list[Stay] = []
    cursor = 0
    for stay in downstream:
        while cursor < len(onward) and onward[cursor].exited < stay.entered - 70:
            available.append(onward[cursor])
            cursor += 1
        if available and rng.random() < 0.3:
            upstream = available.pop()
            person, moving = owner[id(upstream)], owner[id(stay)]
            person.stays.append(stay)
            moving.stays.clear()
            owner[id(stay)] = person
    _two_at_once(stays, owner)
    kept = [person for person in people if person.stays]
    for number, person in enumerate(kept, start=1):
        person.number = number
    return kept


def _two_at_once(stays: dict[int, list[Stay]], owner: dict[int, Person]) -> None:
    """SPEC C11: some people follow a mobility, digital or housing action (5, 6, 7) alongside an
    ACI, an AI or Depart'Emploi (8, 9, 10), so that their weekly hours add up. Merged as the
    onward steps above are: one person takes the other's stay, which changes no action's figures."""
    rng = random.Random(f"{DEMO_SEED}:two-at-once")
    edition = EDITION.toordinal()
    main = [s for n in (8, 9, 10) for s in stays.get(n, []) if owner[id(s)].stays == [s]]
    main.sort(key=lambda stay: (stay.entered, stay.convention.reference))
    taken: set[int] = set()
    for number in (5, 6, 7):
        for stay in stays.get(number, []):
            person = owner[id(stay)]
            if person.stays != [stay] or rng.random() >= 0.25:
                continue
            ends = stay.exited if stay.exited is not None else edition
            partner = next(
                (
                    other
                    for other in main
                    if id(other) not in taken
                    and other.entered <= ends
                    and (other.exited if other.exited is not None else edition) >= stay.entered
                ),
                None,
            )
            if partner is None:
                continue
            taken.add(id(partner))
            owner[id(partner)].stays.append(stay)
            owner[id(partner)].stays.sort(key=lambda s: s.entered)
            person.stays.clear()
            owner[id(stay)] = owner[id(partner)]


def _prescriptions(catalogue: dict[int, ActionInfo], stays: dict[int, list[Stay]]) -> list[Prescription]:
    """A few cancelled prescriptions every year, and some waiting for an entry at the end of 2020."""
    rng = random.Random(f"{DEMO_SEED}:prescriptions")
    result = []
    edition = EDITION.toordinal()
    for number, action in sorted(catalogue.items()):
        entered = Counter((stay.convention.id, date.fromordinal(stay.entered).year) for stay in stays.get(number, []))
        for convention in action.conventions:
            for year in YEARS:
                window = convention.window(year)
                if window is None:
                    continue
                for _ in range(round(entered[(convention.id, year)] * rng.uniform(0.02, 0.06))):
                    prescribed = rng.randint(window[0] - 20, min(window[1], edition - 50))
                    cancelled = prescribed + rng.randint(7, 45)
                    result.append(Prescription(convention, prescribed, cancelled, rng.choice(CANCEL_REASONS), number))
            if convention.end >= edition and convention.window(EDITION.year):
                for _ in range(max(1, round(entered[(convention.id, EDITION.year)] * 0.04))):
                    result.append(Prescription(convention, edition - rng.randint(1, 30), None, None, number))
    return result


def _activity(catalogue: dict[int, ActionInfo]) -> list[tuple[ConventionInfo, int, str, int]]:
    """Monthly activity counts (end of month) adding up to the document's yearly figures."""
    records = []
    rng = random.Random(f"{DEMO_SEED}:activity")
    for number, targets in sorted(TARGETS.items()):
        conventions = catalogue[number].conventions if number in catalogue else ()
        for metric in ACTIVITY_CODES:
            for year, total in sorted(targets.get(metric, {}).items()):
                if total is None:
                    continue  # "NC": nothing reported that year
                open_conventions = [c for c in conventions if c.window(year)]
                shares = largest_remainder(total, [c.planned_days(year) or 1 for c in open_conventions])
                for convention, share in zip(open_conventions, shares, strict=True):
                    months = [
                        m
                        for m in range(1, 13)
                        if convention.window(year)[0] <= _month_end(year, m) <= convention.window(year)[1]
                    ]
                    weights = [_activity_weight(year, m) * rng.uniform(0.7, 1.3) for m in months]
                    for month, quantity in zip(months, largest_remainder(share, weights), strict=True):
                        if quantity:
                            records.append((convention, _month_end(year, month), metric, quantity))
    return records


def _month_end(year: int, month: int) -> int:
    return (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).toordinal()


def _activity_weight(year: int, month: int) -> float:
    """Fewer rentals and exams in August and during the 2020 lockdowns."""
    if year == 2020 and month in (4,):
        return 0.1
    if year == 2020 and month in (3, 5, 11):
        return 0.5
    return 0.6 if month == 8 else 1.0
