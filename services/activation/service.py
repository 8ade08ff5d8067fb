"""Applying activation's inputs. Registry persons get a letter with a code; the portal's steps (over HTTP) run
a step of `domain/flow.py` on the person's account, one at a time per matricule; helpdesk commands come from Kafka
(`helpdesk.py`); the tokens browsers are given are made and checked in `logins.py`.

Guessable secrets are guarded (`guarded`, the rule in `rules.gate`) so that nothing ever locks and a stranger
never keeps the owner out. Failures of the letter's code and of the login password are counted per matricule —
known or not, so answers do not tell them apart: from the 3rd on, an attempt needs a solved challenge and the
owner is told of repeated failures; and they are counted per matricule and client address (the gateway's view of
it, kept only as a keyed hash) for the increasing delay, so a stranger's failures delay only the stranger, and the
owner — the right secret, a solved challenge, from her own address — gets in at once; a browser the account
logged in from before is not delayed at all. The logged-in owner's current password (a password change) needs no
challenge and has a delay of its own per account, which no login failure touches. One-time codes count per
account across codes (`domain/flow.py`). Outcomes (without secrets) go to `activation.events.v1` for operations."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import structlog

from schemas.activation import AccountActivatedV1, ActivationOutcomeV1, ChallengeAnswer, Helpdesk
from schemas.notify import NotificationRequestV1
from services.kit.commands import Ids, Publish, send
from services.kit.hashing import hash_secret, keyed, same_keyed
from services.kit.http import Door
from services.kit.sealing import sealed_request_fields
from services.kit.turns import Turns

from .challenges import Challenges
from .domain import rules
from .domain.account import Account, OtpSlot
from .domain.flow import NewOtp, Step, no
from .helpdesk import HelpdeskCommands
from .logins import Answer, BrowserTokens
from .store.protocol import Store

log = structlog.get_logger("dsp.activation")
NS = uuid.UUID("3c1f7f0e-2b7d-4a8e-9f61-0d2b5c9e4a10")  # ids namespace (letter files are named from it)
IDS = Ids(NS)


class LuxTrust(Protocol):
    """Verifies a LuxTrust assertion for a matricule (the real service is out of reach here)."""

    async def verify(self, assertion: str, matricule: str) -> bool: ...


@dataclass
class Publishers:
    outcome: Publish
    activated: Publish
    notify: Publish


class ActivationService(BrowserTokens):
    def __init__(self, store: Store, out: Publishers, clock: Callable[[], datetime], code_key: bytes,
                 common_passwords: frozenset[str], luxtrust: LuxTrust, challenges: Challenges,
                 notify_key: str | None, door: Door) -> None:
        self.store, self.out, self.clock, self.key, self.notify_key = store, out, clock, code_key, notify_key
        self.common, self.luxtrust, self.challenges, self.door = common_passwords, luxtrust, challenges, door
        self.lock = Turns()  # one step at a time per matricule in this replica
        self.otp_key = hmac.new(code_key, b"dsp-activation-one-time-codes", hashlib.sha256).digest()
        self.client_hash_key = hmac.new(code_key, b"dsp-activation-client-addresses", hashlib.sha256).digest()

    # one-time codes, kept as an HMAC under `otp_key` (5 minutes, 5 tries: no slow hash needed)
    def new_otp(self, matricule: str, slot: OtpSlot, now: datetime) -> NewOtp:
        """A fresh code for `slot`, sent at `now`, and its keyed hash."""
        code = rules.new_otp()
        return NewOtp(code, keyed(self.otp_key, matricule, slot, str(int(now.timestamp())), code))

    def otp_ok(self, acc: Account, slot: OtpSlot, typed: str | None) -> bool:
        """Whether `typed` is the code waiting in `slot` (compared in constant time; the flow says if it may be
        used at all)."""
        otp = acc.get(slot)
        if not otp:
            return False
        return same_keyed(otp["hash"], self.otp_key, acc["_id"], slot, str(int(otp["sent_at"].timestamp())),
                          (typed or "").strip())

    # letters
    async def letter(self, matricule: str, person: Mapping[str, Any], generation: int = 1) -> None:
        """Issue the activation code of `generation` and request its letter (idempotent on both)."""
        now = self.clock()
        code = rules.activation_code(self.key, matricule, generation)
        fields: Account = {"generation": generation, "code_hash": await hash_secret(code), "code_issued_at": now,
                           "code_expires_at": now + rules.CODE_VALIDITY, "code_used": False}
        if not await self.store.create_account({"_id": matricule, "state": "", "active": False, "recent": [],
                                                **fields}):
            acc = await self.store.account(matricule) or {}
            if acc.get("generation", 0) > generation:
                return
            if acc.get("generation", 0) < generation:
                await self.store.set_account(matricule, fields)
                await self.reset_attempts("code", matricule)
        address = person.get("postal_address", {})
        params = {"given_name": person["given_name"], "family_name": person["family_name"],
                  **{k: str(v) for k, v in address.items() if v}}
        await self.notify(f"letter:{matricule}:{generation}", matricule, "letter", "activation-code", params,
                          sealed={"code": code})

    async def notify(self, ref: str, recipient: str, channel: str, template: str, params: dict[str, str],
                     destination: str | None = None, sealed: dict[str, str] | None = None) -> None:
        request_id = f"activation-{IDS.of(ref)}"
        request = NotificationRequestV1.model_validate({
            "request_id": request_id, "channel": channel, "template_id": template, "recipient": recipient,
            "parameters": params, "destination": destination,
            **sealed_request_fields(self.notify_key, sealed or {}, request_id=request_id, channel=channel,
                                    recipient=recipient, destination=destination)})
        await self.out.notify(request.model_dump(mode="json", exclude_none=True), key=request.request_id.encode())

    # guarding guessable secrets
    def client_key(self, epoch: int, client: str | None) -> str:
        """Where one client address's failures on a matricule are counted: the reset epoch and a keyed hash of
        the address (never the address itself). No address given (a caller other than the gateway): one key."""
        mac = hmac.new(self.client_hash_key, (client or "").encode(), hashlib.sha256).hexdigest()[:32]
        return f"{epoch}:{mac}"

    async def guarded(self, kind: str, matricule: str, challenge: ChallengeAnswer | None, trusted: bool,
                      run: Callable[[], Awaitable[Step]], client: str | None = None) -> Answer:
        """Run `run` (one check of a guessable secret of `kind`) if `rules.gate` lets this attempt through,
        counting its failure: per matricule (the challenge, the owner's notices) and, for the delay, per
        matricule and `client` address (`rules.GUARDS`)."""
        guard, now = rules.GUARDS[kind], self.clock()
        counted = await self.store.attempt(kind, matricule)
        failures, epoch = counted["failures"], counted.get("epoch", 0)
        own_key = self.client_key(epoch, client) if guard.wait_per_client else None
        own = await self.store.attempt(kind, matricule, own_key) if own_key is not None else counted
        gate = rules.gate(guard, failures, own["failures"], own["failed_at"], now, trusted)
        if gate.wait_s:
            return Answer(no(f"too many failed attempts; try again in {gate.wait_s} seconds"), gate.challenge,
                          gate.wait_s)
        if gate.challenge and not await self.challenges.solved(challenge):
            return Answer(no("solve the challenge (copy the characters, or let the browser solve it) and try again"),
                          True)
        step = await run()
        if step.failed:
            failures += 1
            await self.store.put_attempt(kind, matricule, failures, now, epoch=epoch)
            if own_key is not None:
                await self.store.put_attempt(kind, matricule, own["failures"] + 1, now, own_key)
            if guard.tell_owner and failures in rules.TELL_OWNER_AT:
                await self._tell_owner(kind, matricule, failures)
        elif step.accepted:
            if failures:
                await self.store.put_attempt(kind, matricule, 0, None, epoch=epoch)
            if own_key is not None and own["failures"]:
                await self.store.put_attempt(kind, matricule, 0, None, own_key)
        return Answer(step, rules.challenge_needed(guard, failures))

    async def reset_attempts(self, kind: str, matricule: str) -> None:
        """Clear the failures of `kind` on `matricule`, every client address's too (their keys carry the epoch
        this moves on, so none is read again; no scan)."""
        counted = await self.store.attempt(kind, matricule)
        await self.store.put_attempt(kind, matricule, 0, None, epoch=counted.get("epoch", 0) + 1)

    async def _tell_owner(self, kind: str, matricule: str, failures: int) -> None:
        acc = await self.store.account(matricule)
        if acc is None:
            return  # nobody to tell (and answers stay the same for unknown matricules)
        params, template = {"failures": str(failures)}, f"repeated-{kind}-failures"
        ref = f"failures:{kind}:{matricule}:{acc.get('generation', 1)}:{failures}:{self.clock().date()}"
        await self.notify(f"{ref}:inapp", matricule, "inapp", template, params)
        email = acc.get("otp_address") if acc.get("otp_channel") == "email" else (await self.store.person(
            matricule)).get("email")
        if email:
            await self.notify(f"{ref}:email", matricule, "email", template, params, email)

    async def helpdesk(self, cmd: Helpdesk) -> ActivationOutcomeV1:
        """A helpdesk command from Kafka (`helpdesk.py`)."""
        return await HelpdeskCommands(self).apply(cmd)

    def outcome(self, command: str, matricule: str, step: Step, command_id: str) -> ActivationOutcomeV1:
        return ActivationOutcomeV1(event_id=IDS.of("outcome", command_id), command_id=command_id,
                                   command=command, matricule=matricule, accepted=step.accepted, reason=step.reason,
                                   next_step=step.next_step, at=self.clock(), details=step.details)

    async def publish(self, command: str, matricule: str, step: Step, command_id: str | None,
                      acc: Account | None, outcome: ActivationOutcomeV1 | None = None) -> ActivationOutcomeV1:
        """The outcome (and `account-activated`) for operations; notices first. Never a secret."""
        outcome = outcome or self.outcome(command, matricule, step, command_id or f"http-{uuid.uuid4()}")
        command_id = outcome.command_id
        for i, notice in enumerate(step.notices):
            await self.notify(f"{command_id}:{i}", matricule, notice["channel"], notice["template_id"],
                              notice["parameters"], notice.get("destination"), notice.get("sealed"))
        if acc is not None and step.activated:
            event = AccountActivatedV1(event_id=IDS.of("activated", matricule, str(acc.get("generation"))),
                                       matricule=matricule, minor=step.details.get("minor") == "true",
                                       luxtrust=bool(acc.get("luxtrust")), activated_at=outcome.at,
                                       channel=_channel(acc.get("otp_channel")), destination=acc.get("otp_address"))
            await send(self.out.activated, event, matricule)
        await send(self.out.outcome, outcome, matricule)
        log.info("activation step accepted" if step.accepted else "activation step refused", command=command,
                 reason=step.reason)
        return outcome


def _channel(chosen: str | None) -> Literal["email", "sms"] | None:
    """The one-time-code channel the person chose, as the account event says it (notify sends her alerts there)."""
    return "email" if chosen == "email" else "sms" if chosen == "sms" else None
