"""A slow, obvious Python version of the ESF+ report (SPEC C9), written from the contract's words
and not from app/esf/report.py, to check the SQL against on random data."""

from collections import defaultdict
from datetime import date

EMPLOYMENT = {
    "employment_cdi",
    "employment_cdd_over_6m",
    "business_creation",
    "civil_service",
    "employment_short",
    "iae_contract",
}
ENTRY = (
    "labour_status",
    "education",
    "disability",
    "third_country_national",
    "foreign_background",
    "minority",
    "homeless",
)
EMPLOYED_AFTER = {"employed_cdi", "employed_cdd_over_6m", "employed_short", "self_employed"}


def _in(day: date | None, year: int) -> bool:
    return day is not None and day.year == year


def convention_counts(*, year: int, pathways: list[dict], participants: dict, follow_ups: dict) -> dict:
    """{indicator: {"F", "M", "X", "total"}} and `incomplete` for the pathways of one convention."""
    counts = defaultdict(lambda: {"F": 0, "M": 0, "X": 0, "total": 0})
    incomplete = 0

    def add(name: str, sex: str | None) -> None:
        counts[name]["total"] += 1
        if sex in ("F", "M", "X"):
            counts[name][sex] += 1

    by_person = defaultdict(list)
    for pathway in pathways:
        by_person[pathway["person_key"]].append(pathway)
    for own in by_person.values():
        entered = [p for p in own if p["entered_on"] is not None and p["cancelled_on"] is None]
        if entered:
            first = min(entered, key=lambda p: (p["entered_on"], p["id"]))
            if _in(first["entered_on"], year):
                sex = first["sex"]
                add("participants", sex)
                record = participants.get(first["id"])
                if record is None or any(record[name] is None for name in ENTRY):
                    incomplete += 1
                else:
                    status = record["labour_status"]
                    if status in ("unemployed", "long_term_unemployed"):
                        add("unemployed", sex)
                    if status == "long_term_unemployed":
                        add("long_term_unemployed", sex)
                    if status == "inactive":
                        add("inactive", sex)
                    if status in ("employed", "self_employed"):
                        add("employed", sex)
                    if first["birth_year"] is not None:
                        age = year - first["birth_year"]
                        if age < 18:
                            add("under_18", sex)
                        elif age <= 29:
                            add("aged_18_29", sex)
                        elif age >= 55:
                            add("aged_55_plus", sex)
                    add(record["education"], sex)
                    for name in ("disability", "third_country_national", "foreign_background", "minority", "homeless"):
                        if record[name] == "yes":
                            add(name, sex)
                    if first["territory"] == "rural":
                        add("rural", sex)
        exited = [p for p in own if p["exited_on"] is not None]
        if exited:
            last = max(exited, key=lambda p: (p["exited_on"], p["id"]))
            if _in(last["exited_on"], year):
                sex = last["sex"]
                record = participants.get(last["id"]) or {}
                if last["exit_reason"] in EMPLOYMENT:
                    add("employed_on_leaving", sex)
                elif last["exit_reason"] == "training":
                    add("in_education_on_leaving", sex)
                elif (record.get("labour_status_on_leaving") or "job_searching") == "job_searching":
                    add("job_searching_on_leaving", sex)
                if record.get("qualification_gained") is True:
                    add("qualification_on_leaving", sex)
                follow_up = follow_ups.get(last["id"])
                if follow_up is not None:
                    if follow_up["situation"] in EMPLOYED_AFTER:
                        add("employed_6_months", sex)
                    if follow_up["improved_situation"] is True:
                        add("improved_situation_6_months", sex)
    return {"counts": dict(counts), "incomplete": incomplete}
