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
    assert di.SCHEMA_VERSION == referentials()["version"]
