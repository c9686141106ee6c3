"""One person, one file number: a file number is normalised before it is hashed (NFKC, invisible
characters removed, case folded), so that the same number typed, pasted or exported otherwise
finds the same person; the hash of an ordinary number is the one it always was."""

from datetime import date

import pytest

from app.core.security import normalised_ref, pseudonymise
from tests.pathways.helpers import API, assert_problem, beneficiary_of, pathway_body, stored_pathway

REF = "RSA-123456É"
# How the same number arrives otherwise: a zero-width space pasted in, full-width characters
# (a Japanese input method, some PDF exports), a decomposed accent (macOS file names, some
# exports), lower case, a word joiner and a BOM, surrounding spaces.
VARIANTS = [
    "RSA-\u200b123456É",
    "ＲＳＡ－１２３４５６É",
    "RSA-123456E\u0301",
    "rsa-123456é",
    "\ufeffRSA-\u2060123456É ",
]


def test_an_ordinary_number_keeps_the_hash_it_always_had():
    """Pinned before the normalisation changed: HMAC-SHA256 of the number in capitals, stripped."""
    assert pseudonymise("RSA-123456", secret="pin-secret") == (
        "843dea2d6a33daf03072cc445aeb05af0162c312af870c940fd246385eedf06a"
    )
    assert pseudonymise(" rsa-123456 ", secret="pin-secret") == pseudonymise("RSA-123456", secret="pin-secret")
    assert pseudonymise("Dossier-É", secret="pin-secret") == (
        "cdb18f7337ed1f38d2846f1da903ccb107be88bcdf94d6cb1b86d17984408596"
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_variants_normalise_to_the_number(variant):
    assert normalised_ref(variant) == "RSA-123456É"


def test_inner_spaces_still_count():
    assert normalised_ref("RSA 123456") != normalised_ref("RSA123456")


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_finds_the_same_person(client, session, world, portal, admin, variant):
    first = client.post(f"{API}/pathways", json=pathway_body(world.convention.id, REF), headers=portal)
    assert first.status_code == 201, first.text
    # No second open prescription of the same person in the convention.
    again = client.post(f"{API}/pathways", json=pathway_body(world.convention.id, variant), headers=portal)
    assert_problem(again, 409)
    # In another convention: a pathway of the same person.
    other = client.post(f"{API}/pathways", json=pathway_body(world.other_convention.id, variant), headers=portal)
    assert other.status_code == 201, other.text
    ids = {
        client.get(f"{API}/pathways/{answer.json()['id']}", headers=admin).json()["beneficiary_id"]
        for answer in (first, other)
    }
    assert len(ids) == 1 and None not in ids
    assert beneficiary_of(session, variant).id == beneficiary_of(session, REF).id


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_exit_record_by_a_variant_finds_the_pathway(client, session, world, variant):
    pathway = stored_pathway(session, world.convention.id, REF, entered_on=date(2019, 2, 1))
    item = {
        "convention_id": world.convention.id,
        "beneficiary_ref": variant,
        "entered_on": "2019-02-01",
        "exited_on": "2019-06-30",
        "exit_reason": "training",
    }
    response = client.post(f"{API}/exit-records", json=[item], headers=world.operator_key)
    assert response.json()["results"][0] | {"problem": None} == {
        "index": 0,
        "line": None,
        "status": "created",
        "pathway_id": pathway.id,
        "problem": None,
    }


@pytest.mark.parametrize("ref", ["\u200b", "\u200b\u200d\ufeff", "\u3164"])
def test_a_number_of_invisible_characters_only_is_refused(client, world, portal, ref):
    response = client.post(f"{API}/pathways", json=pathway_body(world.convention.id, ref), headers=portal)
    assert_problem(response, 422, loc=["body", "beneficiary_ref"])
