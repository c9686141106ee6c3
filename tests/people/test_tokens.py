"""Access tokens (SPEC C10): accepted when the issuer signed them for this service, refused
(401, saying why) when forged, expired or meant for another; the issuer's keys fetched again
for an unknown key at most once every 30 s; an unreachable issuer is a 503 for tokens only."""

import base64
import json
import logging

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from app.auth.tokens import REFETCH_SECONDS, looks_like_a_token
from app.core.caller import Role
from tests.people.fixtures import bearer, bound_client, oidc_app
from tests.people.issuer import Issuer

ME = "/api/v1/me"
FAMILIES = "/api/v1/families"


def assert_invalid(response, reason: str) -> dict:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert reason in body["detail"], body["detail"]
    return body


def test_a_token_of_the_issuer_is_a_person_with_their_membership_role(people, issuer, member):
    membership = member(Role.reader, email="Agent.Un@sarthe.fr")
    token = issuer.token(email="agent.un@SARTHE.fr", email_verified=True, name="Agent Un")
    response = people.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "kind": "person",
        "subject": "agent-0001",
        "email": "agent.un@SARTHE.fr",
        "name": "Agent Un",
        "siret": None,
        "role": "reader",
        "operator_id": None,
        "membership_id": membership.id,
    }


def test_an_ec_key_signs_as_well(people, issuer, member):
    member(Role.reader, subject="agent-0001")
    assert people.get(ME, headers=bearer(issuer.token(kid="ec-1"))).status_code == 200


def _unsigned(claims: dict, header: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


def _public_pem(issuer: Issuer) -> bytes:
    return (
        issuer.keys[issuer.kid]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _forged(issuer: Issuer, how: str) -> tuple[str, str]:
    """A token forged one way, and what the refusal must say."""
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker_jwk = json.loads(RSAAlgorithm.to_jwk(attacker.public_key()))
    if how == "alg none":
        return _unsigned(issuer.claims(), {"alg": "none", "typ": "JWT", "kid": issuer.kid}), "algorithm 'none'"
    if how == "HS256 with the issuer's public key":
        # jwt.encode refuses a PEM as an HMAC secret, as it should: sign by hand.
        header_and_payload = _unsigned(issuer.claims(), {"alg": "HS256", "typ": "JWT", "kid": issuer.kid})[:-1]
        import hashlib
        import hmac

        mac = hmac.new(_public_pem(issuer), header_and_payload.encode(), hashlib.sha256).digest()
        return header_and_payload + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode(), "algorithm 'HS256'"
    if how == "expired":
        return issuer.token(iat=1_000_000, exp=1_000_300), "expired"
    if how == "another audience":
        return issuer.token(aud="https://another.example/api"), "not meant for this service"
    if how == "another issuer":
        return issuer.token(iss="https://idp.elsewhere.example"), "not issued by"
    if how == "not valid yet":
        return issuer.token(nbf=4_000_000_000, exp=4_000_000_300), "not valid yet"
    if how == "jku header":
        token = jwt.encode(
            issuer.claims(),
            attacker,
            algorithm="RS256",
            headers={"kid": "attacker", "jku": "https://attacker.example/jwks"},
        )
        return token, "naming its own key (jku)"
    if how == "embedded jwk header":
        token = jwt.encode(
            issuer.claims(), attacker, algorithm="RS256", headers={"kid": issuer.kid, "jwk": attacker_jwk}
        )
        return token, "naming its own key (jwk)"
    if how == "signed by another key with the issuer's kid":
        return jwt.encode(issuer.claims(), attacker, algorithm="RS256", headers={"kid": issuer.kid}), "signature"
    if how == "tampered payload":
        header, _payload, signature = issuer.token(sub="agent-0002").split(".")
        payload = base64.urlsafe_b64encode(json.dumps(issuer.claims()).encode()).rstrip(b"=").decode()
        return f"{header}.{payload}.{signature}", "signature"
    if how == "no sub":
        return issuer.token(sub=None), "'sub'"
    raise AssertionError(how)


FORGERIES = [
    "alg none",
    "HS256 with the issuer's public key",
    "expired",
    "another audience",
    "another issuer",
    "not valid yet",
    "jku header",
    "embedded jwk header",
    "signed by another key with the issuer's kid",
    "tampered payload",
    "no sub",
]


@pytest.mark.parametrize("how", FORGERIES)
def test_a_forged_or_foreign_token_is_refused_saying_why(people, issuer, member, how):
    member(Role.admin, subject="agent-0001")
    member(Role.admin, subject="agent-0002")
    token, reason = _forged(issuer, how)
    assert looks_like_a_token(token)
    body = assert_invalid(people.get(ME, headers=bearer(token)), reason)
    assert token not in json.dumps(body)
    # Refused on a public route too, as a bad key is.
    assert_invalid(people.get(FAMILIES, headers=bearer(token)), reason)


def test_clocks_apart_by_less_than_a_minute_are_forgiven(people, issuer, member):
    import time

    member(Role.reader, subject="agent-0001")
    now = int(time.time())
    assert people.get(ME, headers=bearer(issuer.token(iat=now + 50, exp=now - 50 + 300))).status_code == 200
    assert people.get(ME, headers=bearer(issuer.token(iat=now - 400, exp=now - 50))).status_code == 200
    assert_invalid(people.get(ME, headers=bearer(issuer.token(iat=now - 400, exp=now - 70))), "expired")


def test_a_valid_token_that_no_membership_matches_is_a_403(people, issuer, member):
    member(Role.reader, subject="someone-else")
    response = people.get(ME, headers=bearer(issuer.token()))
    assert response.status_code == 403, response.text
    assert "no membership" in response.json()["detail"]


def test_without_an_issuer_configured_a_token_is_an_unknown_key(client, issuer):
    response = client.get(ME, headers=bearer(issuer.token()))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_new_signing_key_is_accepted_after_one_refetch_at_most_every_30_seconds(people, issuer, member, clock):
    member(Role.reader, subject="agent-0001")
    assert people.get(ME, headers=bearer(issuer.token())).status_code == 200
    assert issuer.jwks_fetches == 1
    for _ in range(3):  # known keys: no fetch
        assert people.get(ME, headers=bearer(issuer.token())).status_code == 200
    assert issuer.jwks_fetches == 1

    rotated = issuer.add_key("rsa-2", rsa.generate_private_key(public_exponent=65537, key_size=2048))
    clock.now += REFETCH_SECONDS - 1
    for _ in range(3):  # within 30 s of the last fetch: the unknown key is refused, nothing fetched
        assert_invalid(people.get(ME, headers=bearer(issuer.token(kid=rotated))), "key the issuer does not publish")
    assert issuer.jwks_fetches == 1

    clock.now += 1
    assert people.get(ME, headers=bearer(issuer.token(kid=rotated))).status_code == 200
    assert issuer.jwks_fetches == 2
    assert people.get(ME, headers=bearer(issuer.token())).status_code == 200  # the old key still published
    clock.now += REFETCH_SECONDS
    assert_invalid(people.get(ME, headers=bearer(issuer.token(headers={"kid": "nowhere"}))), "does not publish")
    assert issuer.jwks_fetches == 3


def test_an_unreachable_issuer_is_a_503_for_tokens_and_keys_still_work(session, issuer, member, admin, clock):
    member(Role.reader, subject="agent-0001")
    token = issuer.token()
    issuer.stop()
    with bound_client(oidc_app(issuer.url, clock=clock), session) as people:
        response = people.get(ME, headers=bearer(token))
        assert response.status_code == 503, response.text
        assert 1 <= int(response.headers["retry-after"]) <= 30
        assert response.json()["title"] == "Service unavailable"
        # Tried once per 30 s, not per token: still a 503 (and no waiting on the issuer).
        assert people.get(ME, headers=bearer(token)).status_code == 503
        assert people.get(ME, headers=admin).status_code == 200
        assert people.get(FAMILIES, headers=admin).status_code == 200


def test_keys_kept_from_the_issuer_still_check_tokens_while_it_is_down(people, issuer, member, clock):
    member(Role.reader, subject="agent-0001")
    assert people.get(ME, headers=bearer(issuer.token())).status_code == 200
    token = issuer.token()
    issuer.stop()
    clock.now += REFETCH_SECONDS
    assert people.get(ME, headers=bearer(token)).status_code == 200
    # A key it never fetched cannot be checked now: a 503, not a 401.
    assert people.get(ME, headers=bearer(issuer.token(headers={"kid": "rotated"}))).status_code == 503


def test_no_token_is_ever_logged(people, issuer, member, caplog):
    member(Role.admin, subject="agent-0001")
    caplog.set_level(logging.DEBUG)
    tokens = [issuer.token(), _forged(issuer, "expired")[0], _forged(issuer, "alg none")[0]]
    for token in tokens:
        people.get(ME, headers=bearer(token))
        people.get("/api/v1/memberships", headers=bearer(token))
    logged = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert "identity provider" in logged  # the keys' fetch was logged, so logs were captured
    for token in tokens:
        assert token not in logged
        assert token.split(".")[1] not in logged  # nor its claims


def test_an_issuer_without_an_audience_is_refused_at_start():
    from pydantic import ValidationError

    from app.core.config import Settings

    with pytest.raises(ValidationError, match="PDI_OIDC_AUDIENCE"):
        Settings(oidc_issuer="https://idp.example.fr")
    assert Settings(oidc_issuer="", oidc_audience="").oidc_issuer is None
