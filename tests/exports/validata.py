"""validata-table, the validator of data.gouv.fr's SCDL schemas, run in its own venv (`make
validata`: its dependencies conflict with the project's) on a file and a schema."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from app.core.config import PROJECT_ROOT

FIXTURES = Path(__file__).parent / "fixtures"
SCDL_SUBVENTIONS_SCHEMA = FIXTURES / "scdl-subventions-2.1.1.schema.json"
VALIDATA_PYTHON = Path(os.environ.get("PDI_VALIDATA_PYTHON", PROJECT_ROOT / ".venv-validata" / "bin" / "python"))

# validata_core.validate runs the schema's custom checks (SIRET check digits, one-of-required).
_SCRIPT = """
import json, sys
import validata_core
report = validata_core.validate(sys.argv[1], sys.argv[2])
print(json.dumps(report.to_dict(), default=str))
"""


def validata_report(csv_file: Path, schema: Path = SCDL_SUBVENTIONS_SCHEMA) -> dict:
    if not VALIDATA_PYTHON.exists():
        pytest.fail(f"validata-table is not installed at {VALIDATA_PYTHON}: run `make validata`")
    done = subprocess.run(
        [str(VALIDATA_PYTHON), "-c", _SCRIPT, str(csv_file), str(schema)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
