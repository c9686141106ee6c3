"""The data·inclusion schema's referentials (thematiques, types, publics…), as vendored values.

app/reference/data_inclusion.json is written by `python -m seed.di_referentials` from the
`data-inclusion-schema` package, which is a test dependency only: the service reads the file,
never the package. Actions are checked against these values on input (app/catalogue/schemas.py).
"""

import json
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data_inclusion.json"

_data = json.loads(DATA_FILE.read_text(encoding="utf-8"))

PACKAGE: str = _data["package"]  # where the values come from: data-inclusion-schema, this version
PACKAGE_VERSION: str = _data["version"]
SCHEMA_VERSION: str = _data["schema"]  # the schema's major version, "v1"
# {referential name: [{"value", "label"}]}, in the package's order.
REFERENTIALS: dict[str, list[dict[str, str]]] = _data["referentials"]


def values_of(referential: str) -> tuple[str, ...]:
    return tuple(entry["value"] for entry in REFERENTIALS[referential])


THEMATIQUES = values_of("thematiques")
TYPES = values_of("types")
PUBLICS = values_of("publics")
FRAIS = values_of("frais")
MODES_ACCUEIL = values_of("modes_accueil")
MODES_MOBILISATION = values_of("modes_mobilisation")
MOBILISABLE_PAR = values_of("mobilisable_par")
# The schema's public for "no specific public": it may not be listed with any other.
TOUS_PUBLICS = "tous-publics"
