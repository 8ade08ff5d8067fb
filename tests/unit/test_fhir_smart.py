"""SMART Backend Services at the FHIR API's token endpoint: a registered client's signed assertion (its own key,
this endpoint, fresh, naming a professional it may act for) gets read scopes; anything else is refused with a
reason that carries no secret."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from services.gateway.fhir import smart

URL = "https://dsp.example.lu/fhir/r4/auth/token"
NOW = 1_800_000_000.0
ED, EC = ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP384R1())


def jwks(*pairs: tuple[str, object]) -> dict[str, object]:
    keys = []
    for kid, key in pairs:
        algorithm = OKPAlgorithm if isinstance(key, ed25519.Ed25519PrivateKey) else ECAlgorithm
        public = json.loads(algorithm.to_jwk(key.public_key()))  # type: ignore[attr-defined]
        keys.append({**public, "kid": kid})
    return {"keys": keys}


CLIENT = smart.Client("cabinet-weber", jwks(("k1", ED), ("k2", EC)), frozenset({"PRO-1000", "PRO-1001"}),
                      frozenset({"user/DocumentReference.read", "user/Observation.rs", "user/*.read"}))


def assertion(key: object = ED, kid: str = "k1", alg: str = "EdDSA", **claims: object) -> str:
    body = {"iss": "cabinet-weber", "sub": "cabinet-weber", "aud": URL, "exp": int(NOW) + 240, "jti": "a1b2c3d4e5f6",
            "dsp_professional": "PRO-1000", **claims}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})  # type: ignore[arg-type]


def test_a_registered_clients_fresh_assertion_gets_what_it_asks_within_its_registration() -> None:
    for signed in (assertion(), assertion(EC, "k2", "ES384")):
        claims = smart.check_client_assertion(signed, CLIENT, URL, NOW)
        grant = smart.client_grant(claims, CLIENT, "user/DocumentReference.read user/Observation.rs")
        assert grant == smart.Grant("PRO-1000", frozenset({"user/DocumentReference.read", "user/Observation.rs"}),
                                    "cabinet-weber")
    assert smart.allows(frozenset({"user/Observation.rs"}), "Observation")
    assert not smart.allows(frozenset({"user/Observation.rs"}), "DocumentReference")
    assert smart.allows(frozenset({"user/*.read"}), "Binary")


@pytest.mark.parametrize(("signed", "reason"), [
    (assertion(aud="https://other.example/token"), "not valid (InvalidAudienceError)"),
    (assertion(iss="someone-else"), "not valid (InvalidIssuerError)"),
    (assertion(sub="someone-else"), "sub must be the client id"),
    (assertion(exp=int(NOW) - 1), "must expire within 5 minutes"),
    (assertion(exp=int(NOW) + 3600), "must expire within 5 minutes"),
    (assertion(kid="k9"), "key is not registered"),
    (assertion(jti="short"), "needs a jti"),
    (assertion(ed25519.Ed25519PrivateKey.generate()), "not valid (InvalidSignatureError)"),  # not its key
    (assertion(alg="HS256", key=b"k" * 32), "not valid (InvalidAlgorithmError)"),
])
def test_what_is_not_the_clients_own_fresh_assertion_is_refused(signed: str, reason: str) -> None:
    with pytest.raises(smart.Refused, match=reason.replace("(", r"\(").replace(")", r"\)")) as refused:
        smart.check_client_assertion(signed, CLIENT, URL, NOW)
    assert refused.value.error == "invalid_client"


def test_the_professional_and_the_scopes_must_be_the_clients() -> None:
    claims = smart.check_client_assertion(assertion(dsp_professional="PRO-9999"), CLIENT, URL, NOW)
    with pytest.raises(smart.Refused, match="professional this client may act for"):
        smart.client_grant(claims, CLIENT, "user/*.read")
    claims = smart.check_client_assertion(assertion(), CLIENT, URL, NOW)
    for scope, why in (("user/Patient.write", "not offered"), ("patient/*.read", "not offered"),
                       ("user/Binary.read", "not registered"), ("", "no scope")):
        with pytest.raises(smart.Refused, match=why):
            smart.client_grant(claims, CLIENT, scope)


def test_the_assertion_is_checked_on_the_injected_clock() -> None:
    signed = assertion(exp=int(time.time()) - 7200)  # long expired by the wall clock, fresh on the injected one
    assert smart.check_client_assertion(signed, CLIENT, URL, time.time() - 7300)["jti"] == "a1b2c3d4e5f6"
