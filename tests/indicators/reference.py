"""A slow, obvious computation of SPEC's indicators over plain Python lists of dicts, written
straight from the definitions (sets of days, no SQL), to check the SQL engine against.

It follows the engine's documented decisions: a cancelled pathway is a prescription only (so is
a refused, withdrawn or expired one, which also counts on the day of its decision or its end); the
territory restricts pathways, and convention-year and activity figures are those of the
conventions in the row's other keys, unsplit; which rows exist (see app/indicators/engine/__init__.py).
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from app.reference.diagnostic_dimensions import DIMENSION_CODES
from app.reference.exit_reasons import COMPLETED_REASONS, DURABLE_EMPLOYMENT_REASONS, DYNAMIC_REASONS

# SPEC C9: a follow-up "in employment" six months after leaving.
EMPLOYED_AFTER_SIX_MONTHS = {"employed_cdi", "employed_cdd_over_6m", "employed_short", "self_employed"}
METRICS = (
    "vehicle_rental_days",
    "licence_registrations",
    "licences_obtained",
    "computers_donated",
    "workshop_sessions",
)


@dataclass
class Data:
    actions: dict[int, dict] = field(default_factory=dict)  # id → {code, family}
    conventions: dict[int, dict] = field(default_factory=dict)  # id → {action_id, operator_id, start_on, end_on}
    convention_years: list[dict] = field(default_factory=list)
    pathways: list[dict] = field(default_factory=list)
    activity: list[dict] = field(default_factory=list)  # {convention_id, on, metric, quantity}
    # {convention_id, territory (its pathway's), assessed_on, marks: {dimension: mark}}
    diagnostics: list[dict] = field(default_factory=list)
    consolidated: set[int] = field(default_factory=set)
    # SPEC C11: person_key → (lowered weekly target, its last day or None); others have DEFAULT_TARGET.
    engagements: dict[int, tuple[float, date | None]] = field(default_factory=dict)


# PDI_WEEKLY_HOURS_TARGET's default.
DEFAULT_TARGET = 15.0


@dataclass
class Query:
    actions: tuple[str, ...] = ()
    family: str | None = None
    operator_id: int | None = None
    convention_id: int | None = None
    territory: str | None = None


def days(first: date, last: date) -> set[date]:
    """Every day from first to last, both included (empty when last < first)."""
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def year_days(year: int) -> set[date]:
    return days(date(year, 1, 1), date(year, 12, 31))


def stay(pathway: dict, as_of: date) -> tuple[date, date] | None:
    if pathway["cancelled_on"] is not None or pathway["entered_on"] is None or pathway["entered_on"] > as_of:
        return None
    end = as_of if pathway["exited_on"] is None else min(pathway["exited_on"], as_of)
    return pathway["entered_on"], end


def convention_in_scope(data: Data, convention_id: int, query: Query) -> bool:
    convention = data.conventions[convention_id]
    action = data.actions[convention["action_id"]]
    return (
        (not query.actions or action["code"] in query.actions)
        and (query.family is None or action["family"] == query.family)
        and (query.operator_id is None or convention["operator_id"] == query.operator_id)
        and (query.convention_id is None or convention_id == query.convention_id)
    )


def group_of(data: Data, convention_id: int, territory, year, group_by) -> tuple:
    convention = data.conventions[convention_id]
    action = data.actions[convention["action_id"]]
    every = {
        "action": action["code"],
        "family": action["family"],
        "operator": convention["operator_id"],
        "convention": convention_id,
        "territory": territory,
        "year": year,
    }
    return tuple(every[key] for key in group_by)


def indicators(data: Data, *, start: date, end: date, as_of: date, query: Query, group_by: tuple[str, ...]):
    """Rows as (group dict, values dict, consolidated, targets or None), in no particular order."""
    last = min(end, as_of)
    if "year" in group_by:
        windows = [
            (year, max(start, date(year, 1, 1)), min(last, date(year, 12, 31)))
            for year in range(start.year, last.year + 1)
        ]
    else:
        windows = [(None, start, last)]
    return _rows(data, windows=windows, as_of=as_of, query=query, group_by=group_by)


def indicators_for_years(data: Data, *, years, as_of: date, query: Query, group_by: tuple[str, ...]):
    if "year" not in group_by:
        group_by = (*group_by, "year")
    windows = [(year, date(year, 1, 1), min(date(year, 12, 31), as_of)) for year in sorted(set(years))]
    return _rows(data, windows=windows, as_of=as_of, query=query, group_by=group_by)


def no_pathways() -> dict:
    return {
        "persons": set(),
        "entries": 0,
        "exits": 0,
        "dynamic": 0,
        "durable": 0,
        "creation": 0,
        "completed": 0,
        "prescriptions": 0,
        "stay_days": 0,
        "delays": [],
        "with_hours": 0,
        "reached": set(),
        "decisions": 0,
        "refusals": 0,
        "decision_delays": [],
        "withdrawals": 0,
        "expired": 0,
        "follow_ups_known": 0,
        "follow_ups_employed": 0,
    }


def effective_weekly_hours(data: Data, pathway: dict) -> float | None:
    """The pathway's own hours, else its convention's line of the year it started, else its action's."""
    if pathway.get("weekly_hours") is not None:
        return pathway["weekly_hours"]
    started = (pathway["entered_on"] or pathway["prescribed_on"]).year
    for line in data.convention_years:
        if line["convention_id"] == pathway["convention_id"] and line["year"] == started:
            if line.get("weekly_hours") is not None:
                return line["weekly_hours"]
    action = data.actions[data.conventions[pathway["convention_id"]]["action_id"]]
    return action.get("weekly_hours")


def in_progress(pathway: dict, day: date) -> bool:
    return (
        pathway["cancelled_on"] is None
        and pathway["entered_on"] is not None
        and pathway["entered_on"] <= day
        and (pathway["exited_on"] is None or pathway["exited_on"] >= day)
    )


def target_of(data: Data, person_key: int, day: date) -> float:
    lowered = data.engagements.get(person_key)
    if lowered is not None and (lowered[1] is None or lowered[1] >= day):
        return lowered[0]
    return DEFAULT_TARGET


def _hours_on(data: Data, day: date) -> dict[int, float | None]:
    """Each person in progress on `day`: the sum of all their pathways' hours, None if one is unknown."""
    totals: dict[int, float | None] = {}
    for pathway in data.pathways:
        if in_progress(pathway, day):
            hours = effective_weekly_hours(data, pathway)
            known = totals.get(pathway["person_key"], 0.0)
            totals[pathway["person_key"]] = None if hours is None or known is None else known + hours
    return totals


def _rows(data: Data, *, windows, as_of, query: Query, group_by):
    windows = [w for w in windows if w[1] <= w[2]]
    without_territory = tuple(key for key in group_by if key != "territory")

    def project(group: tuple) -> tuple:
        return tuple(value for key, value in zip(group_by, group) if key != "territory")

    people: dict[tuple, dict] = {}
    lines: dict[tuple, dict] = {}
    reported: dict[tuple, dict] = {}
    assessed: dict[tuple, list[dict]] = {}  # group → the marks of each diagnostic assessed in W
    missing: set[tuple] = set()  # groups with a convention year missing
    in_progress_persons: dict[tuple, set[int]] = {}  # group → persons in progress on W's last day
    hours_on: dict[tuple, dict[int, float | None]] = {}  # group → that day's totals, for its persons
    targets_on: dict[tuple, date] = {}  # group → that day
    for year_key, first, last in windows:
        window = days(first, last)
        totals_on_last_day = _hours_on(data, last)
        for pathway in data.pathways:
            if not convention_in_scope(data, pathway["convention_id"], query):
                continue
            if query.territory is not None and pathway.get("territory") != query.territory:
                continue
            if in_progress(pathway, last):
                group = group_of(data, pathway["convention_id"], pathway.get("territory"), year_key, group_by)
                in_progress_persons.setdefault(group, set()).add(pathway["person_key"])
                hours_on[group] = totals_on_last_day
                targets_on[group] = last
        threshold_year = last.year
        for pathway in data.pathways:
            if not convention_in_scope(data, pathway["convention_id"], query):
                continue
            territory = pathway.get("territory")  # recorded on each pathway
            if query.territory is not None and territory != query.territory:
                continue
            the_stay = stay(pathway, as_of)
            stay_days = days(*the_stay) & window if the_stay else set()
            cancelled = pathway["cancelled_on"] is not None
            prescribed = pathway["prescribed_on"] in window
            entered = not cancelled and pathway["entered_on"] in window
            exited = not cancelled and pathway["exited_on"] in window
            decided = pathway.get("decided_on") in window
            ending = pathway.get("ended_as")
            ended = ending in ("withdrawn", "expired") and pathway["cancelled_on"] in window
            if not (stay_days or prescribed or entered or exited or decided or ended):
                continue
            group = group_of(data, pathway["convention_id"], territory, year_key, group_by)
            totals = people.setdefault(group, no_pathways())
            if stay_days:
                totals["persons"].add(pathway["person_key"])
                totals["stay_days"] += len(stay_days)
                if pathway["hours"] is not None:
                    totals["with_hours"] += 1
                    threshold = next(
                        (
                            line["hours_threshold"]
                            for line in data.convention_years
                            if line["convention_id"] == pathway["convention_id"] and line["year"] == threshold_year
                        ),
                        None,
                    )
                    if threshold is not None and pathway["hours"] >= threshold:
                        totals["reached"].add(pathway["person_key"])
            totals["prescriptions"] += prescribed
            if decided:
                totals["decisions"] += 1
                totals["refusals"] += pathway["decision"] == "refused"
                totals["decision_delays"].append((pathway["decided_on"] - pathway["prescribed_on"]).days)
            if ended:
                totals["withdrawals"] += ending == "withdrawn"
                totals["expired"] += ending == "expired"
            if entered:
                totals["entries"] += 1
                totals["delays"].append((pathway["entered_on"] - pathway["prescribed_on"]).days)
            if exited:
                reason = pathway["exit_reason"]
                totals["exits"] += 1
                totals["dynamic"] += reason in DYNAMIC_REASONS
                totals["durable"] += reason in DURABLE_EMPLOYMENT_REASONS
                totals["creation"] += reason == "business_creation"
                totals["completed"] += reason in COMPLETED_REASONS
                situation = pathway.get("follow_up")  # its six-month follow-up (SPEC C9), if any
                if situation is not None and situation != "unknown":
                    totals["follow_ups_known"] += 1
                    totals["follow_ups_employed"] += situation in EMPLOYED_AFTER_SIX_MONTHS

        for line in data.convention_years:
            if not convention_in_scope(data, line["convention_id"], query):
                continue
            if not first.year <= line["year"] <= last.year:
                continue
            convention = data.conventions[line["convention_id"]]
            group = group_of(data, line["convention_id"], None, year_key, without_territory)
            totals = lines.setdefault(group, {"places": [], "budgets": [], "fse": [], "planned_days": Fraction(0)})
            totals["places"].append(line["places"])
            totals["budgets"].append(line["budget"])
            totals["fse"].append(line["fse_amount"])
            planned = window & year_days(line["year"]) & days(convention["start_on"], convention["end_on"])
            totals["planned_days"] += Fraction(line["places"] or 0) * line["months_per_place"] / 12 * len(planned)

        # SPEC C13: a convention running in a year of W without that year's line leaves its
        # group's places, budgets and planned months unknown.
        lined = {(line["convention_id"], line["year"]) for line in data.convention_years}
        for convention_id, convention in data.conventions.items():
            if not convention_in_scope(data, convention_id, query):
                continue
            for year in range(first.year, last.year + 1):
                runs = window & year_days(year) & days(convention["start_on"], convention["end_on"])
                if runs and (convention_id, year) not in lined:
                    group = group_of(data, convention_id, None, year_key, without_territory)
                    missing.add(group)

        for record in data.activity:
            if convention_in_scope(data, record["convention_id"], query) and record["on"] in window:
                group = group_of(data, record["convention_id"], None, year_key, without_territory)
                metrics = reported.setdefault(group, {})
                metrics[record["metric"]] = metrics.get(record["metric"], 0) + record["quantity"]

        for diagnostic in data.diagnostics:
            if not convention_in_scope(data, diagnostic["convention_id"], query):
                continue
            if query.territory is not None and diagnostic["territory"] != query.territory:
                continue
            if diagnostic["assessed_on"] in window:
                group = group_of(data, diagnostic["convention_id"], diagnostic["territory"], year_key, group_by)
                assessed.setdefault(group, []).append(diagnostic["marks"])

    groups = set(people) | set(assessed) | set(in_progress_persons)
    if "territory" not in group_by:
        groups |= set(lines) | set(reported)
    if group_by == ():
        groups = {()}
    elif group_by == ("year",):
        groups = {(year,) for year, _first, _last in windows}

    rows = []
    for group in groups:
        seen = people.get(group) or no_pathways()  # the group's pathway totals
        line = lines.get(project(group))
        metrics = reported.get(project(group), {})
        values = {}
        if project(group) in missing:
            line = None
        values["places_funded"] = (
            None if line is None or all(p is None for p in line["places"]) else sum(p or 0 for p in line["places"])
        )
        values["budget"] = None if line is None or None in line["budgets"] else float(sum(line["budgets"]))
        values["budget_fse"] = None if line is None or None in line["fse"] else float(sum(line["fse"]))
        values["persons_present"] = len(seen["persons"])
        values["entries"] = seen["entries"]
        values["exits"] = seen["exits"]
        values["prescriptions"] = seen["prescriptions"]
        planned = line["planned_days"] if line else 0
        values["occupancy_rate"] = float(Fraction(seen["stay_days"]) / planned) if planned else None
        exits = seen["exits"]
        values["dynamic_exit_rate"] = seen["dynamic"] / exits if exits else None
        values["durable_employment_rate"] = seen["durable"] / exits if exits else None
        values["business_creation_rate"] = seen["creation"] / exits if exits else None
        values["completion_rate"] = seen["completed"] / exits if exits else None
        values["hours_threshold_reached"] = len(seen["reached"]) if seen["with_hours"] else None
        delays = seen["delays"]
        values["mean_entry_delay_days"] = sum(delays) / len(delays) if delays else None
        budget = values["budget"]
        values["cost_per_person"] = (
            budget / values["persons_present"] if budget is not None and values["persons_present"] else None
        )
        values["cost_per_dynamic_exit"] = budget / seen["dynamic"] if budget is not None and seen["dynamic"] else None
        known = seen["follow_ups_known"]
        values["employment_6_months_rate"] = seen["follow_ups_employed"] / known if known else None
        for metric in METRICS:
            values[metric] = metrics.get(metric)
        decisions = seen["decisions"]
        values["decisions"] = decisions
        values["refusal_rate"] = seen["refusals"] / decisions if decisions else None
        values["mean_decision_delay_days"] = sum(seen["decision_delays"]) / decisions if decisions else None
        values["withdrawals"] = seen["withdrawals"]
        values["expired_prescriptions"] = seen["expired"]
        marks = assessed.get(group, [])
        for dimension in DIMENSION_CODES:
            barriers = sum(1 for marked in marks if marked.get(dimension) == "barrier")
            values[f"barrier_rate_{dimension}"] = barriers / len(marks) if marks else None

        persons = in_progress_persons.get(group, set())
        counted = [person for person in persons if hours_on[group][person] is not None]
        below = [person for person in counted if hours_on[group][person] < target_of(data, person, targets_on[group])]
        values["persons_in_progress"] = len(persons)
        values["mean_weekly_hours"] = sum(hours_on[group][p] for p in counted) / len(counted) if counted else None
        values["persons_below_target"] = len(below)
        values["share_below_target"] = len(below) / len(counted) if counted else None

        keyed = dict(zip(group_by, group))
        if "year" in group_by:
            consolidated = keyed["year"] in data.consolidated
        else:
            _, first, last = windows[0] if windows else (None, None, None)
            consolidated = bool(windows) and all(y in data.consolidated for y in range(first.year, last.year + 1))
        targets = None
        if "convention" in group_by and windows and ("year" in group_by or windows[0][1].year == windows[0][2].year):
            year = keyed["year"] if "year" in group_by else windows[0][2].year
            targets = next(
                (
                    line["targets"] or {}
                    for line in data.convention_years
                    if line["convention_id"] == keyed["convention"] and line["year"] == year
                ),
                {},
            )
        rows.append((keyed, values, consolidated, targets))
    return rows
