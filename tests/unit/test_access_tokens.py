"""Every service checks a service token's signature once, then trusts the same bytes until they expire."""

from __future__ import annotations

import pytest

from services.kit.servicetokens import (
    LIFETIME_S,
    Refused,
    RememberingVerifier,
    Signer,
    Verifier,
    new_key,
    parse_public_keys,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def verifier(clock: Clock) -> tuple[RememberingVerifier, Signer, Signer]:
    gateway, console = new_key(), new_key()
    keys = parse_public_keys(f"gateway={gateway[1]},console={console[1]}")
    return (RememberingVerifier(Verifier("access", keys, clock)), Signer("gateway", gateway[0], clock),
            Signer("console", console[0], clock))


def test_a_token_is_verified_once_then_trusted_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    checker, gateway, _ = verifier(clock)
    token = gateway.token("access")
    assert checker.caller(f"Bearer {token}", ("gateway",)) == "gateway"
    monkeypatch.setattr(Verifier, "claims", lambda *a: pytest.fail("verified twice"))
    assert checker.caller(f"Bearer {token}", ("gateway",)) == "gateway"
    with pytest.raises(Refused) as refused:  # a route the gateway may not call: 403, remembered or not
        checker.caller(f"Bearer {token}", ("console",))
    assert refused.value.status == 403
    monkeypatch.undo()
    clock.now += LIFETIME_S + 1
    with pytest.raises(Refused) as refused:
        checker.caller(f"Bearer {token}", ("gateway",))
    assert refused.value.status == 401


def test_a_forged_or_foreign_token_is_never_remembered() -> None:
    clock = Clock()
    checker, gateway, console = verifier(clock)
    token = gateway.token("access")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(Refused) as refused:
            checker.caller(f"Bearer {forged}", ("gateway",))
        assert refused.value.status == 401
    with pytest.raises(Refused) as refused:
        checker.caller(f"Bearer {gateway.token('records')}", ("gateway",))  # another service's audience
    assert refused.value.status == 401
    with pytest.raises(Refused) as refused:
        checker.caller(f"Bearer {console.token('access')}", ("gateway",))
    assert refused.value.status == 403
    assert checker.caller(f"Bearer {console.token('access')}", ("gateway", "console")) == "console"


def test_every_services_door_remembers_a_checked_token() -> None:
    """The portal's reads reach activation, records and notify as well as access: each door remembers."""
    from typing import ClassVar

    from services.kit.settings import ServiceSettings
    from tests.inprocess import settings_from

    class Records(ServiceSettings):
        service: ClassVar[str] = "records"

    env = {"DSP_LOG_PSEUDONYM_KEY": "k" * 48, "DSP_SERVICE_PUBLIC_KEYS": f"gateway={new_key()[1]}"}
    assert isinstance(settings_from(Records, env).door().verifier, RememberingVerifier)
