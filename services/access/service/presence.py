"""Presence passwords, the use case (`POST /v1/presence/generate`, `/v1/presence/redeem`, and the agency's on
activation): the secret is generated or checked here, never on Kafka.

- Generated once, in `_keep`, for the patient (owner or assistant, answered once) and for the agency
  ("également envoyé par l'Agence eSanté": when an account becomes active, `activation.accounts.v1`, posted by
  letter): only its argon2 hash is kept (with, if it is to be posted, the letter's parameters sealed to notify)
  under the command id, and an internal `generate-presence-password` command without the secret goes to the
  patient's partition, whose consumer makes that hash the patient's one and sends the sealed letter. The agency's
  command id comes from the activation event's id, so a redelivered event finds its hash already kept (the first
  one stands) or its effects done: no second letter, no new password. Activation activates only a person of the
  registry, so the event is not held back while access's copy of the registry catches up.
- Redeemed by a professional: at most 5 wrong tries per professional per patient, and 10 on the patient's
  password from all professionals together, per sliding hour (then 429 with the reason, the try not evaluated);
  the patient is told (in-app and on her own channel) at the 3rd wrong try and at the 10th; this replica takes
  one patient's tries in turn, so concurrent tries never pass a cap; every evaluated try is audited; a right one
  is recorded under the command id and an internal `redeem-presence-password` command (no secret) gives the grant.
The consumer applies an internal command only if this use case recorded it in access's own database, so a forged
command on the topic is refused. The caller awaits the command's outcome on `access.events.v1`."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

import structlog

from schemas.access import (
    ActorRef,
    PresenceGenerated,
    PresenceGenerateRequest,
    PresencePasswordCommand,
    PresenceRedeemRequest,
    RedeemPresencePassword,
)
from schemas.activation import AccountActivatedV1
from services.kit import hashing
from services.kit.commands import Publish
from services.kit.sealing import sealed_request_fields
from services.kit.turns import Turns

from ..domain import planner, presence
from ..domain.decisions import Action, Actor
from ..domain.directory import AGENCY_ACTOR, agency_command_id
from ..store import AuditTrail, Store
from .answers import Answer
from .effects import Notices, ms, notice_id
from .view import AccessView

log = structlog.get_logger("dsp.access.presence")
AGENCY = ActorRef(kind="operator", id=AGENCY_ACTOR)


def generate() -> str:
    """8 characters from a 31-letter alphabet (~40 bits), shown as XXXX-XXXX."""
    raw = "".join(secrets.choice(presence.ALPHABET) for _ in range(presence.LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


async def hash_password(password: str) -> str:
    return await hashing.hash_secret(presence.normalize(password))


async def matches(stored_hash: str | None, typed: str) -> bool:
    """argon2 verification off the event loop (constant-time); never raises on a wrong guess or a bad hash."""
    return await hashing.matches(stored_hash, presence.normalize(typed))


class PresencePasswords:
    def __init__(self, store: Store, view: AccessView, audit: AuditTrail, notices: Notices, send_command: Publish,
                 clock: Callable[[], datetime], notify_key: str | None) -> None:
        self.store, self.view, self.audit, self.notices = store, view, audit, notices
        self.send_command, self.clock, self.notify_key = send_command, clock, notify_key
        self._turn = Turns()

    async def _keep(self, command_id: str, patient: str, delivery: str, now: datetime) -> str | None:
        """A new password for `patient`, its hash (and the letter, sealed to notify, unless `delivery` is none) kept
        under `command_id`; None if that command already has one (the first stands)."""
        password = generate()
        hashed = await hash_password(password)
        sealed = {} if delivery == "none" else sealed_request_fields(
            self.notify_key, {"password": password}, request_id=notice_id(f"{command_id}:password"),
            channel=delivery, recipient=patient)
        if not await self.store.put_pending_presence(command_id, hashed, sealed, now, patient):
            return None
        return password

    async def _apply(self, command_id: str, patient: str, actor: ActorRef, delivery: str) -> None:
        command = PresencePasswordCommand(command="generate-presence-password", command_id=command_id,
                                          patient=patient, actor=actor, delivery=delivery)
        await self.send_command(command.model_dump(mode="json"), key=patient.encode())

    async def generate(self, body: PresenceGenerateRequest) -> Answer:
        """The patient's (or an assistant's) new password, answered once."""
        now = ms(self.clock())
        rights = await self.view.decide(Actor(body.actor.kind, body.actor.id), Action.MANAGE, body.patient, now)
        if not rights.allowed:
            return 403, {"detail": rights.reason}
        password = await self._keep(body.command_id, body.patient, body.delivery, now)
        if password is None:
            return 409, {"detail": "this command id was already used; send a new one"}
        await self._apply(body.command_id, body.patient, body.actor, body.delivery)
        return 202, PresenceGenerated(command_id=body.command_id, presence_password=password).model_dump()

    async def issue(self, event: AccountActivatedV1) -> str:
        """The agency's password for an account that became active, posted by letter (once per activation event);
        returns the internal command's id. The password lives only in `_keep` and in the box only notify opens."""
        command_id, patient = agency_command_id(event), event.matricule
        if await self.store.effects_done(command_id):
            return command_id  # applied and the letter requested: a redelivery changes nothing
        if await self.store.pending_presence(command_id) is None:
            if await self._keep(command_id, patient, "letter", ms(self.clock())) is None:
                log.info("agency presence password already issued for this activation; the first one stands")
        await self._apply(command_id, patient, AGENCY, "letter")
        log.info("agency presence password issued; posted by letter once applied", command_id=command_id,
                 activation_event=event.event_id)
        return command_id

    async def redeem(self, body: PresenceRedeemRequest, via: str = "") -> Answer:
        """A professional's try (`via`: the calling service, audited)."""
        now = ms(self.clock())
        async with self._turn(body.patient):  # one guess at a time per patient: concurrent tries see every count
            return await self._redeem(body, now, via)

    async def _redeem(self, body: PresenceRedeemRequest, now: datetime, via: str) -> Answer:
        pro, patient = body.professional_id, body.patient
        known = await self.view.professional_known(pro)
        doc = await self.store.load(patient)
        keys = [presence.professional_key(pro, patient), presence.patient_key(patient, doc.presence_hash)]
        since = now - presence.WINDOW
        by_pro, on_patient = [await self.store.presence_failures_since(k, since) for k in keys] if known else [0, 0]
        refused = planner.presence_try(known, by_pro, on_patient)
        if refused is not None:
            return refused[0], {"detail": refused[1]}
        if not await matches(doc.presence_hash, body.password):
            await self.store.presence_failed(keys, now, body.command_id)
            await self.audit.append(patient, now, "professional", pro, "redeem-presence-password", None, False,
                                    "wrong presence password", ref=body.command_id, via=via)
            notice = planner.guesses_notice(on_patient + 1)
            if notice is not None:
                await self.notices.alert(patient, f"{body.command_id}:{notice}", notice,
                                         {"failures": str(on_patient + 1)})
            return 403, {"detail": "wrong presence password"}
        await self.store.put_redemption(body.command_id, patient, pro, now)
        command = RedeemPresencePassword(command="redeem-presence-password", command_id=body.command_id,
                                         patient=patient, actor={"kind": "professional", "id": pro})
        await self.send_command(command.model_dump(mode="json"), key=patient.encode())
        return 202, {"command_id": body.command_id}
