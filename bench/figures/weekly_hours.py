"""The meter of the contrat d'engagement's weekly hours (SPEC C11): the first page of
`GET /weekly-hours` on the data's last day, everyone listed (`below=1000`), against hand-written
SQL of the same sums for the same persons, checked to give the endpoint's numbers."""

import httpx
import psycopg

from bench.common import ON, interleaved_medians, report

PAGE = 500
METER_URL = f"/api/v1/weekly-hours?on={ON}&below=1000&size={PAGE}"

# Per person with a pathway in progress on the day: the sum of the known effective hours (the
# pathway's, else its convention's line of the year it started, else its action's) and how many
# are unknown; the first page by person; then those persons' pathways.
REFERENCE_SQL = """
WITH hours AS (
    SELECT p.id, p.beneficiary_id, p.convention_id, a.code AS action,
           COALESCE(p.weekly_hours, cy.weekly_hours, a.weekly_hours) AS h
    FROM pathway p
    JOIN convention c ON c.id = p.convention_id
    JOIN action a ON a.id = c.action_id
    LEFT JOIN convention_year cy
           ON cy.convention_id = p.convention_id
          AND cy.year = EXTRACT(year FROM COALESCE(p.entered_on, p.prescribed_on))
    WHERE p.cancelled_on IS NULL AND p.entered_on <= %(on)s
      AND (p.exited_on IS NULL OR p.exited_on >= %(on)s) AND p.beneficiary_id IS NOT NULL
), persons AS (
    SELECT beneficiary_id, COALESCE(sum(h), 0) AS total, count(*) - count(h) AS unknown
    FROM hours GROUP BY beneficiary_id ORDER BY beneficiary_id LIMIT %(size)s
)
SELECT persons.beneficiary_id, persons.total, persons.unknown, count(hours.id) AS pathways
FROM persons JOIN hours ON hours.beneficiary_id = persons.beneficiary_id
GROUP BY persons.beneficiary_id, persons.total, persons.unknown
ORDER BY persons.beneficiary_id
"""


def measure_weekly_hours(base: str, url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http, psycopg.connect(url) as connection:

        def meter():
            return http.get(METER_URL).raise_for_status().json()

        def by_hand():
            rows = connection.execute(REFERENCE_SQL, {"on": ON, "size": PAGE}).fetchall()
            connection.rollback()
            return rows

        got = [
            (item["beneficiary_id"], round(item["weekly_hours"], 2), item["unknown"], len(item["pathways"]))
            for item in meter()["items"]
        ]
        expected = [
            (person, round(float(total), 2), unknown, pathways) for person, total, unknown, pathways in by_hand()
        ]
        assert got == expected, "the meter and the hand-written SQL disagree"
        endpoint_seconds, hand_seconds = interleaved_medians(meter, by_hand)
    report(
        f"GET /weekly-hours first page of {PAGE} persons on {ON} (admin, HTTP, JSON)",
        endpoint_seconds,
        "s",
        "hand-written SQL of the same sums",
        hand_seconds,
    )
