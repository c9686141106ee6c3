"""Ownership that survives rotation, through the command line (issue 22): a portal key made by
`pdi keys create`, rotated by `pdi keys rotate`, reads with its new generation the prescription
its first one made, on a database the requests commit to."""

import uuid

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app import cli as cli_module
from app import cli_access
from tests.concurrency.conftest import client_of

pytestmark = pytest.mark.slow


def test_pdi_keys_rotate_keeps_the_portals_prescriptions(world, monkeypatch):
    monkeypatch.setattr(cli_access, "get_engine", lambda: world.engine)
    runner = CliRunner()
    created = runner.invoke(cli_module.cli, ["keys", "create", "--role", "portal", "--name", "Portail rotation"])
    assert created.exit_code == 0, created.output
    key_id, first_key = int(created.output.split()[2]), created.output.strip().splitlines()[-1]
    with client_of(world) as client:
        made = client.post(
            "/api/v1/pathways",
            json={
                "convention_id": world.convention_id,
                "beneficiary_ref": f"ROT-{uuid.uuid4().hex[:8]}",
                "prescribed_on": "2024-01-10",
            },
            headers={"Authorization": f"Bearer {first_key}"},
        )
        assert made.status_code == 201, made.text

    rotated = runner.invoke(cli_module.cli, ["keys", "rotate", str(key_id), "--grace-days", "0"])
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.output.strip().splitlines()[-1]
    with TestClient(world.app) as client:
        assert client.get("/api/v1/pathways", headers={"Authorization": f"Bearer {first_key}"}).status_code == 401
        headers = {"Authorization": f"Bearer {new_key}"}
        assert client.get(f"/api/v1/pathways/{made.json()['id']}", headers=headers).status_code == 200
        assert [item["id"] for item in client.get("/api/v1/pathways", headers=headers).json()["items"]] == [
            made.json()["id"]
        ]
