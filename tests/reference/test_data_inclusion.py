"""The vendored data·inclusion referentials cannot drift from the package the tests install."""

from app.reference import data_inclusion as di
from seed.di_referentials import referentials, render


def test_vendored_file_is_what_the_installed_package_holds():
    # When this fails after a package upgrade: `python -m seed.di_referentials`, then review the diff.
    assert di.DATA_FILE.read_text(encoding="utf-8") == render(referentials())


def test_the_service_reads_the_same_values():
    from data_inclusion.schema import v1

    assert di.THEMATIQUES == tuple(member.value for member in v1.Thematique)
    assert di.PUBLICS == tuple(member.value for member in v1.Public)
    assert di.TOUS_PUBLICS == v1.Public.TOUS_PUBLICS.value
    assert di.PACKAGE_VERSION == referentials()["version"]


def test_the_referentials_are_public(client):
    response = client.get("/api/v1/reference/data-inclusion")
    assert response.status_code == 200
    body = response.json()
    assert body["package"] == "data-inclusion-schema"
    assert body["schema_version"] == "v1"
    assert [entry["value"] for entry in body["referentials"]["frais"]] == ["gratuit", "payant"]
    assert len(body["referentials"]["thematiques"]) == len(di.THEMATIQUES)
