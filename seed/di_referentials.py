"""Vendor the data·inclusion referentials the service checks actions against.

    python -m seed.di_referentials     # rewrites app/reference/data_inclusion.json

The `data-inclusion-schema` package is a test dependency only (pyproject's dev extra): the
service must not import it at run time, so the values it needs are copied from the installed
package into a data file by this script, never by hand. tests/reference/test_data_inclusion.py
checks that the file equals what the installed package holds, so a new package version that
changes a referential fails the suite until this script is run again.
"""

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

PACKAGE = "data-inclusion-schema"
OUTPUT = Path(__file__).resolve().parents[1] / "app" / "reference" / "data_inclusion.json"


def referentials() -> dict[str, Any]:
    """The referentials of the installed package's schema v1, in the package's own order."""
    from data_inclusion.schema import v1  # the dev extra: `pip install -e '.[dev]'`

    enums = {
        "thematiques": v1.Thematique,
        "types": v1.TypeService,
        "publics": v1.Public,
        "frais": v1.Frais,
        "modes_accueil": v1.ModeAccueil,
        "modes_mobilisation": v1.ModeMobilisation,
        "mobilisable_par": v1.PersonneMobilisatrice,
    }
    return {
        "package": PACKAGE,
        "version": version(PACKAGE),
        "schema": "v1",
        "referentials": {
            name: [{"value": member.value, "label": member.label} for member in enum] for name, enum in enums.items()
        },
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    OUTPUT.write_text(render(referentials()), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(Path.cwd()) if OUTPUT.is_relative_to(Path.cwd()) else OUTPUT}")


if __name__ == "__main__":
    main()
