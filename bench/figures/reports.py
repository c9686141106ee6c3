"""The reports over HTTP (JSON), each against one hand-written SQL query of its core counts run
through psycopg, alternately, REPEATS times, medians kept; each reference is first checked to give
the numbers the endpoint shows (a reference that computed something else would measure nothing),
and plans with the parallel workers the service gives its heavy reads (`plan_as_a_heavy_read`):

- the full bilan 2018-2020 (`BILAN_REFERENCE_SQL`);
- the ESF+ report of 2020 (`ESF_REFERENCE_SQL`);
- `/indicators?year=2020&group_by=action,territory` with the pathway indicators the reference
  computes (`INDICATORS_REFERENCE_SQL`, written from SPEC's definitions, not from the engine's SQL).
"""

import math
import statistics

import httpx
import psycopg

from bench.common import REPEATS, interleaved_medians, plan_as_a_heavy_read, report, seconds

BILAN_URL = "/api/v1/bilan?years=2018,2019,2020&as_of=2020-12-31"
ESF_URL = "/api/v1/reports/esf?year=2020"

# What a person would write by hand for the bilan's pathway figures, per action and year (as_of
# 2020-12-31 is the last year's end, so no stay is cut short): persons present, days of stay,
# exits by kind, persons over their hours threshold. Of the natural forms (VALUES, a UNION ALL of
# constants, generate_series) it is the fastest one here. The bench checks that its figures are
# those the bilan shows.
BILAN_REFERENCE_SQL = """
WITH years AS (
    SELECT 2018 AS year, date '2018-01-01' AS first_day, date '2018-12-31' AS last_day
    UNION ALL SELECT 2019, date '2019-01-01', date '2019-12-31'
    UNION ALL SELECT 2020, date '2020-01-01', date '2020-12-31'
)
SELECT c.action_id, y.year,
    count(DISTINCT p.beneficiary_id) AS persons_present,
    sum(least(coalesce(p.exited_on, y.last_day), y.last_day) - greatest(p.entered_on, y.first_day) + 1) AS stay_days,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day) AS exits,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day AND p.exit_reason IN (
        'employment_cdi', 'employment_cdd_over_6m', 'business_creation', 'civil_service',
        'employment_short', 'iae_contract', 'training', 'insertion_action')) AS dynamic_exits,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day AND p.exit_reason IN (
        'employment_cdi', 'employment_cdd_over_6m', 'business_creation', 'civil_service')) AS durable_exits,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day
        AND p.exit_reason = 'business_creation') AS business_creation_exits,
    count(*) FILTER (WHERE p.exited_on BETWEEN y.first_day AND y.last_day AND p.exit_reason NOT IN (
        'reoriented', 'dropped_out', 'moved', 'health', 'rsa_ended', 'other')) AS completed_exits,
    count(DISTINCT p.beneficiary_id) FILTER (WHERE p.hours >= cy.hours_threshold) AS hours_threshold_reached
FROM pathway p
JOIN convention c ON c.id = p.convention_id
JOIN years y ON p.entered_on <= y.last_day AND (p.exited_on IS NULL OR p.exited_on >= y.first_day)
LEFT JOIN convention_year cy ON cy.convention_id = p.convention_id AND cy.year = y.year
WHERE p.cancelled_on IS NULL
GROUP BY c.action_id, y.year
"""


# --- the bilan against hand-written SQL ---------------------------------------------------------


def measure_bilan(base: str, url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http, psycopg.connect(url) as connection:

        def bilan():
            return http.get(BILAN_URL).raise_for_status().json()

        def by_hand():
            plan_as_a_heavy_read(connection)
            rows = connection.execute(BILAN_REFERENCE_SQL).fetchall()
            connection.rollback()
            return rows

        check_same_figures(bilan(), by_hand(), connection)
        bilan_runs, hand_runs = [], []
        for _ in range(REPEATS):
            bilan_runs.append(seconds(bilan))
            hand_runs.append(seconds(by_hand))
    report(
        "full bilan 2018-2020 (HTTP, JSON)",
        statistics.median(bilan_runs),
        "s",
        "hand-written SQL of its pathway figures",
        statistics.median(hand_runs),
        goal="≤ 1.2",
    )


def check_same_figures(bilan: dict, rows: list, connection: psycopg.Connection) -> None:
    """The reference computes what the bilan shows: its persons present and exits, action by action."""
    codes = dict(connection.execute("SELECT id, code FROM action").fetchall())
    # An action without a convention year in a year has no data for it: the bilan says NC (null).
    with_data = {
        (codes[action_id], str(year))
        for action_id, year in connection.execute(
            "SELECT DISTINCT c.action_id, cy.year FROM convention_year cy JOIN convention c ON c.id = cy.convention_id"
        ).fetchall()
    }
    connection.rollback()
    by_hand = {(codes[row[0]], str(row[1])): row for row in rows}
    columns = {"persons_present": 2, "exits": 4}
    compared = 0
    for family in bilan["families"]:
        for action in family["actions"]:
            for line in action["table"]:
                if line["indicator"] not in columns:
                    continue
                for year, value in line["values"].items():
                    row = by_hand.get((action["code"], year))
                    if (action["code"], year) not in with_data:
                        expected = None
                    else:
                        expected = row[columns[line["indicator"]]] if row else 0
                    assert value == expected, f"{action['code']} {line['indicator']} {year}: {value} != {expected}"
                    compared += 1
    assert compared > 0


# --- the ESF+ report against hand-written SQL -------------------------------------------------------

# The report's core counts as a person would write them for PostgreSQL: DISTINCT ON picks each
# person's first entry and last exit per convention (the report uses window functions, which
# SQLite has too).
ESF_REFERENCE_SQL = """
WITH cofunded AS (SELECT convention_id FROM convention_year WHERE year = 2020 AND fse_amount > 0),
firsts AS (
    SELECT DISTINCT ON (p.convention_id, p.person_key) p.id, p.convention_id, p.entered_on
    FROM pathway p JOIN cofunded USING (convention_id)
    WHERE p.entered_on IS NOT NULL AND p.cancelled_on IS NULL
    ORDER BY p.convention_id, p.person_key, p.entered_on, p.id
),
lasts AS (
    SELECT DISTINCT ON (p.convention_id, p.person_key) p.id, p.convention_id, p.exited_on, p.exit_reason
    FROM pathway p JOIN cofunded USING (convention_id)
    WHERE p.exited_on IS NOT NULL
    ORDER BY p.convention_id, p.person_key, p.exited_on DESC, p.id DESC
),
entrants AS (
    SELECT f.convention_id, count(*) AS participants,
        count(*) FILTER (WHERE pp.pathway_id IS NULL OR pp.labour_status IS NULL OR pp.education IS NULL
            OR pp.disability IS NULL OR pp.third_country_national IS NULL OR pp.foreign_background IS NULL
            OR pp.minority IS NULL OR pp.homeless IS NULL) AS incomplete
    FROM firsts f LEFT JOIN pathway_participant pp ON pp.pathway_id = f.id
    WHERE f.entered_on BETWEEN '2020-01-01' AND '2020-12-31'
    GROUP BY f.convention_id
),
leavers AS (
    SELECT l.convention_id,
        count(*) FILTER (WHERE l.exit_reason IN ('employment_cdi', 'employment_cdd_over_6m', 'business_creation',
            'civil_service', 'employment_short', 'iae_contract')) AS employed_on_leaving,
        count(*) FILTER (WHERE fu.situation IN ('employed_cdi', 'employed_cdd_over_6m', 'employed_short',
            'self_employed')) AS employed_6_months
    FROM lasts l LEFT JOIN follow_up fu ON fu.pathway_id = l.id
    WHERE l.exited_on BETWEEN '2020-01-01' AND '2020-12-31'
    GROUP BY l.convention_id
)
SELECT convention_id, coalesce(participants, 0), coalesce(incomplete, 0), coalesce(employed_on_leaving, 0),
    coalesce(employed_6_months, 0)
FROM entrants FULL JOIN leavers USING (convention_id)
ORDER BY convention_id
"""
ESF_CORE = ("participants", "incomplete", "employed_on_leaving", "employed_6_months")


def measure_esf_report(base: str, url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http, psycopg.connect(url) as connection:

        def esf_report():
            return http.get(ESF_URL).raise_for_status().json()

        def by_hand():
            plan_as_a_heavy_read(connection)
            rows = connection.execute(ESF_REFERENCE_SQL).fetchall()
            connection.rollback()
            return rows

        check_same_esf_counts(esf_report(), by_hand())
        report_runs, hand_runs = [], []
        for _ in range(REPEATS):
            report_runs.append(seconds(esf_report))
            hand_runs.append(seconds(by_hand))
    report(
        "ESF+ report 2020 (HTTP, JSON)",
        statistics.median(report_runs),
        "s",
        "hand-written SQL of its core counts",
        statistics.median(hand_runs),
    )


def check_same_esf_counts(esf: dict, rows: list) -> None:
    """The reference computes what the report shows, convention by convention."""
    by_hand = {row[0]: row[1:] for row in rows}
    compared = 0
    for block in esf["conventions"]:
        totals = {row["indicator"]: row["values"]["total"] for row in block["rows"]}
        shown = (
            totals["participants"],
            block["incomplete"],
            totals["employed_on_leaving"],
            totals["employed_6_months"],
        )
        expected = tuple(by_hand.get(block["convention_id"], (0, 0, 0, 0)))
        assert shown == expected, f"convention {block['convention_id']}: {shown} != {expected} ({ESF_CORE})"
        compared += shown[0] > 0
    assert compared > 0, "the demo should give the co-funded conventions participants"


# --- /indicators against hand-written SQL ---------------------------------------------------------

# Written from SPEC's definitions ("Indicators"), not from the engine: year 2020, as_of left to
# its default (today, after the year's end), so W is the whole year; a pathway's stay meets W when
# it entered by W's end and had not left before W's start (a cancelled prescription never
# entered); the territory is the one recorded on the pathway (its beneficiary's at the time).
INDICATORS = (
    "persons_present",
    "entries",
    "exits",
    "prescriptions",
    "dynamic_exit_rate",
    "durable_employment_rate",
    "business_creation_rate",
    "completion_rate",
    "mean_entry_delay_days",
    "hours_threshold_reached",
)
INDICATORS_URL = "/api/v1/indicators?year=2020&group_by=action,territory&indicators=" + ",".join(INDICATORS)
INDICATORS_REFERENCE_SQL = """
WITH w AS (SELECT date '2020-01-01' AS first_day, date '2020-12-31' AS last_day),
counted AS (
    SELECT a.code AS action, p.territory, p.person_key, p.prescribed_on, p.entered_on, p.exited_on,
        p.exit_reason, p.hours, cy.hours_threshold,
        p.entered_on <= w.last_day AND (p.exited_on IS NULL OR p.exited_on >= w.first_day) AS stays,
        p.entered_on BETWEEN w.first_day AND w.last_day AS enters,
        p.exited_on BETWEEN w.first_day AND w.last_day AS leaves,
        p.prescribed_on BETWEEN w.first_day AND w.last_day AS prescribed
    FROM pathway p
    CROSS JOIN w
    JOIN convention c ON c.id = p.convention_id
    JOIN action a ON a.id = c.action_id
    LEFT JOIN convention_year cy ON cy.convention_id = p.convention_id AND cy.year = 2020
    WHERE p.prescribed_on <= w.last_day AND (p.exited_on IS NULL OR p.exited_on >= w.first_day)
)
SELECT action, territory,
    count(DISTINCT person_key) FILTER (WHERE stays) AS persons_present,
    count(*) FILTER (WHERE enters) AS entries,
    count(*) FILTER (WHERE leaves) AS exits,
    count(*) FILTER (WHERE prescribed) AS prescriptions,
    count(*) FILTER (WHERE leaves AND exit_reason IN ('employment_cdi', 'employment_cdd_over_6m',
        'business_creation', 'civil_service', 'employment_short', 'iae_contract', 'training',
        'insertion_action')) AS dynamic_exits,
    count(*) FILTER (WHERE leaves AND exit_reason IN ('employment_cdi', 'employment_cdd_over_6m',
        'business_creation', 'civil_service')) AS durable_exits,
    count(*) FILTER (WHERE leaves AND exit_reason = 'business_creation') AS business_creations,
    count(*) FILTER (WHERE leaves AND exit_reason NOT IN ('reoriented', 'dropped_out', 'moved', 'health',
        'rsa_ended', 'other')) AS completed_exits,
    avg(entered_on - prescribed_on) FILTER (WHERE enters) AS mean_entry_delay_days,
    count(DISTINCT person_key) FILTER (WHERE stays AND hours >= hours_threshold) AS over_threshold,
    count(hours) FILTER (WHERE stays) AS with_hours
FROM counted
GROUP BY action, territory
"""


def indicator_rows(rows: list) -> dict[tuple, dict]:
    """The reference's rows as the endpoint's values: rates and the mean from their counts,
    null where SPEC says null."""
    values = {}
    for row in rows:
        (action, territory, persons, entries, exits, prescriptions, dynamic, durable, business, completed) = row[:10]
        mean_delay, over_threshold, with_hours = row[10:]

        def rate(part, exits=exits):
            return part / exits if exits else None

        values[(action, territory)] = {
            "persons_present": persons,
            "entries": entries,
            "exits": exits,
            "prescriptions": prescriptions,
            "dynamic_exit_rate": rate(dynamic),
            "durable_employment_rate": rate(durable),
            "business_creation_rate": rate(business),
            "completion_rate": rate(completed),
            "mean_entry_delay_days": float(mean_delay) if mean_delay is not None else None,
            "hours_threshold_reached": over_threshold if with_hours else None,
        }
    return values


def check_same_indicators(shown: dict, by_hand: dict[tuple, dict]) -> None:
    """The reference computes what /indicators shows, group by group; a group one side lacks
    must count nothing on the other."""
    endpoint = {(row["group"]["action"], row["group"]["territory"]): row["values"] for row in shown["rows"]}
    compared = 0
    for group in endpoint.keys() | by_hand.keys():
        mine, theirs = endpoint.get(group), by_hand.get(group)
        if mine is None or theirs is None:
            present = mine or theirs
            assert not any(present[name] for name in ("persons_present", "entries", "exits", "prescriptions")), (
                f"group {group} only on one side: {present}"
            )
            continue
        for name in INDICATORS:
            a, b = mine[name], theirs[name]
            same = a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9))
            assert same, f"/indicators {group} {name}: {a!r} != by hand {b!r}"
        compared += mine["persons_present"] > 0
    assert compared > 0


def measure_indicators(base: str, url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http, psycopg.connect(url) as connection:

        def indicators():
            return http.get(INDICATORS_URL).raise_for_status().json()

        def by_hand():
            plan_as_a_heavy_read(connection)
            rows = connection.execute(INDICATORS_REFERENCE_SQL).fetchall()
            connection.rollback()
            return rows

        check_same_indicators(indicators(), indicator_rows(by_hand()))
        endpoint_seconds, hand_seconds = interleaved_medians(indicators, by_hand)
    report(
        "GET /indicators 2020 by action and territory (pathway indicators, HTTP, JSON)",
        endpoint_seconds,
        "s",
        "hand-written SQL of the same counts",
        hand_seconds,
        goal="≤ 1.2",
    )
