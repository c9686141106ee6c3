"""The rows of the ESF+ report (SPEC C9): the common indicators for participants of Annex I of
Regulation (EU) 2021/1057, in the report's order.

Where each label's wording comes from:
- the output indicators take the wording of Annex I of Regulation (EU) 2021/1057 itself, points
  1.1 and 1.2 (the Annex as adopted on 24 June 2021, read in the EU Monitor's copy of the
  dossier COM(2018)382: https://eumonitor.eu/9353000/1/j4nvirkkkr58fyw_j9vvik7m1c3gyxp/vkoseu9025xz):
  "unemployed, including long-term unemployed", "long-term unemployed", "inactive", "employed,
  including self-employed", "number of children below 18 years of age", "young people between 18
  and 29 years of age", "number of participants of 55 years of age and above", "with lower
  secondary education or less (ISCED 0-2)", "with upper secondary (ISCED 3) or post-secondary
  education (ISCED 4)", "with tertiary education (ISCED 5 to 8)", "total number of participants",
  "participants with disabilities", "third-country nationals", "participants with a foreign
  background", "minorities (including marginalised communities, such as Roma people)";
- "homeless or affected by housing exclusion", "from rural areas" and the results ("engaged in
  job searching", "in education or training", "gaining a qualification", "in employment,
  including self-employment", upon leaving and six months after leaving; "with an improved labour
  market situation six months after leaving"), which that copy's excerpt did not reach, take the
  wording Annex I of the 2014-2020 ESF Regulation (EU) No 1304/2013 gave the same indicators
  (https://legislation.gov.uk/eur/2013/1304/annex/I).
Codes are the Commission's, given only where a source is cited here:
- EECO02 "Unemployed, including long-term unemployed" and EECO12 "Participants with
  disabilities": the Commission's SFC support portal, FAQ on collecting individual data when an
  operation focuses on a specific target group
  (https://sfc.ec.europa.eu/en/need-collect-individual-data-common-output-indicators-if-operation-focuses-specific-target-group).
The other codes are null: no source for them could be consulted.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class EsfIndicator:
    indicator: str
    code: str | None
    label: str
    kind: str  # output | on_leaving | six_months


ESF_INDICATORS: tuple[EsfIndicator, ...] = (
    EsfIndicator("participants", None, "Total number of participants", "output"),
    EsfIndicator("unemployed", "EECO02", "Unemployed, including long-term unemployed", "output"),
    EsfIndicator("long_term_unemployed", None, "Long-term unemployed", "output"),
    EsfIndicator("inactive", None, "Inactive", "output"),
    EsfIndicator("employed", None, "Employed, including self-employed", "output"),
    EsfIndicator("under_18", None, "Number of children below 18 years of age", "output"),
    EsfIndicator("aged_18_29", None, "Young people between 18 and 29 years of age", "output"),
    EsfIndicator("aged_55_plus", None, "Number of participants of 55 years of age and above", "output"),
    EsfIndicator("isced_0_2", None, "With lower secondary education or less (ISCED 0-2)", "output"),
    EsfIndicator(
        "isced_3_4",
        None,
        "With upper secondary (ISCED 3) or post-secondary education (ISCED 4)",
        "output",
    ),
    EsfIndicator("isced_5_8", None, "With tertiary education (ISCED 5 to 8)", "output"),
    EsfIndicator("disability", "EECO12", "Participants with disabilities", "output"),
    EsfIndicator("third_country_national", None, "Third-country nationals", "output"),
    EsfIndicator("foreign_background", None, "Participants with a foreign background", "output"),
    EsfIndicator("minority", None, "Minorities (including marginalised communities, such as Roma people)", "output"),
    EsfIndicator("homeless", None, "Homeless or affected by housing exclusion", "output"),
    EsfIndicator("rural", None, "From rural areas", "output"),
    EsfIndicator("job_searching_on_leaving", None, "Participants engaged in job searching upon leaving", "on_leaving"),
    EsfIndicator("in_education_on_leaving", None, "Participants in education or training upon leaving", "on_leaving"),
    EsfIndicator("qualification_on_leaving", None, "Participants gaining a qualification upon leaving", "on_leaving"),
    EsfIndicator(
        "employed_on_leaving",
        None,
        "Participants in employment, including self-employment, upon leaving",
        "on_leaving",
    ),
    EsfIndicator(
        "employed_6_months",
        None,
        "Participants in employment, including self-employment, six months after leaving",
        "six_months",
    ),
    EsfIndicator(
        "improved_situation_6_months",
        None,
        "Participants with an improved labour market situation six months after leaving",
        "six_months",
    ),
)
ESF_CODES = tuple(row.indicator for row in ESF_INDICATORS)
SEXES = ("F", "M", "X")
