"""Another département (SPEC C12): `pdi init` with PDI_DEPARTEMENT_CODE=44 prepares an empty
catalogue (the families only: no Sarthe operator, convention or demo), and the service it serves
names the département in its exports (source cd44) and its bilan, run as a département would:
the commands in their own processes, on a database of their own."""

import os
import signal
import subprocess

import httpx
import pytest

from tests.scratch import scratch_database
from tests.servers import free_port
from tests.test_docker import VENV_BIN, wait_until_ready

pytestmark = pytest.mark.slow


def test_pdi_init_for_another_departement(tmp_path):
    with scratch_database(tmp_path, "pdi_init_44") as url:
        environment = os.environ | {
            "DATABASE_URL": url,
            "PDI_DEPARTEMENT_CODE": "44",
            "PDI_DEPARTEMENT_NAME": "Loire-Atlantique",
            "PDI_VAR_DIR": str(tmp_path / "var"),
            "PDI_WORKER_IN_PROCESS": "false",
        }
        environment.pop("PDI_SOURCE", None)
        init = subprocess.run(
            [str(VENV_BIN / "pdi"), "init"], env=environment, capture_output=True, text=True, timeout=300, check=False
        )
        assert init.returncode == 0, init.stderr
        assert "source cd44" in init.stdout
        key = init.stdout.strip().splitlines()[-1]
        admin = {"Authorization": f"Bearer {key}"}

        port = free_port()
        log = tmp_path / "serve.log"
        with log.open("w") as output:
            server = subprocess.Popen(
                [str(VENV_BIN / "pdi"), "serve", "--port", str(port)],
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30, trust_env=False) as http:
                wait_until_ready(http, f"http://127.0.0.1:{port}/healthz", server, log)
                assert http.get("/operators", headers=admin).json()["total"] == 0
                assert http.get("/conventions", headers=admin).json()["total"] == 0
                assert http.get("/exports/data-inclusion/structures").json()["items"] == []
                families = http.get("/families").json()["items"]
                assert {family["code"] for family in families} >= {"referencement", "retour-emploi"}

                operator = http.post("/operators", headers=admin, json={"name": "Tremplin Nantes"})
                assert operator.status_code == 201, operator.text
                site = http.post(
                    f"/operators/{operator.json()['id']}/sites",
                    headers=admin,
                    json={"name": "Tremplin", "commune": "Nantes", "insee_code": "44109"},
                )
                assert site.status_code == 201, site.text
                (structure,) = http.get("/exports/data-inclusion/structures").json()["items"]
                assert (structure["source"], structure["id"]) == ("cd44", f"cd44--site-{site.json()['id']}")

                bilan = http.get("/bilan", params={"years": "2025", "format": "html"}, headers=admin)
                assert bilan.status_code == 200, bilan.text
                assert "<h1>Loire-Atlantique — Bilan des actions" in bilan.text
                assert "Sarthe" not in bilan.text
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
