"""The fifteen dimensions of Depart'Parcours' diagnostic (SPEC C7): the document's "bilan des
atouts et des freins à l'insertion", each marked an asset, a barrier or neutral; the labels are
the document's own words."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Dimension:
    code: str
    label: str


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("qualification", "Qualification"),
    Dimension("professional_experience", "Expérience Professionnelle"),
    Dimension("job_search_autonomy", "Autonomie recherche emploi"),
    Dimension("mobility", "Mobilité"),
    Dimension("interpersonal", "Relationnel"),
    Dimension("numeracy", "Mathématiques"),
    Dimension("financial_situation", "Situation financière"),
    Dimension("availability", "Disponibilité"),
    Dimension("oral_written_expression", "Expression orale et écrite"),
    Dimension("punctuality", "Ponctualité"),
    Dimension("digital", "Numérique"),
    Dimension("housing", "Logement"),
    Dimension("dress", "Tenue vestimentaire"),
    Dimension("health", "Santé"),
    Dimension("social_ties", "Lien social"),
)

DIMENSION_CODES: tuple[str, ...] = tuple(dimension.code for dimension in DIMENSIONS)
# How a diagnostic marks a dimension.
MARKS: tuple[str, ...] = ("asset", "barrier", "neutral")
