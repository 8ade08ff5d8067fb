"""Presence passwords over access's HTTP API: the secret is generated or checked here, never on Kafka.

- `POST /v1/presence/generate` (owner or assistant): a new password, answered once; only its argon2 hash is
  kept (with, if it is to be posted, the letter's parameters sealed to notify) under the caller's command id,
  and an internal `generate-presence-password` command without the secret goes to the patient's partition,
  whose consumer makes that hash the patient's one.
- `POST /v1/presence/redeem` (a professional): at most 5 wrong tries per professional per patient, and 10 on
  the patient's password from all professionals together, per sliding hour (then 429 with the reason, the try
  not evaluated); the patient is told (in-app and on her own channel) at the 3rd wrong try and at the 10th;
  this replica takes one patient's tries in turn, so concurrent tries never pass a cap; every evaluated try is
  audited; a right one is recorded under the command id and an internal `redeem-presence-password` command (no
  secret) gives the 24-hour grant.
The consumer applies an internal command only if this API recorded it in access's own database, so a forged
command on the topic is refused. The caller awaits the command's outcome on `access.events.v1`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.access import (
    PresenceGenerated,
    PresenceGenerateRequest,
    PresencePasswordCommand,
    PresenceRedeemRequest,
    RedeemPresencePassword,
)
from services.kit.http import Door
from services.kit.sealing import sealed_request_fields
from services.kit.servicetokens import calling_service
from services.kit.turns import Turns

from . import commands, presence
from .decisions import Action, Actor
from .service import AccessService, ms, notice_id


class PresenceApi:
    def __init__(self, service: AccessService, clock: Callable[[], datetime], notify_key: str | None) -> None:
        self.service, self.clock, self.notify_key = service, clock, notify_key
        self.store, self.view, self.audit = service.store, service.view, service.audit
        self._turn = Turns()

    def routes(self, door: Door) -> list[tuple[str, Any]]:
        return [("/v1/presence/generate", door.endpoint(self.generate, ("gateway",))),
                ("/v1/presence/redeem", door.endpoint(self.redeem, ("gateway",)))]

    async def generate(self, raw: bytes) -> tuple[int, Any]:
        body, now = PresenceGenerateRequest.model_validate_json(raw), ms(self.clock())
        rights = await self.view.decide(Actor(body.actor.kind, body.actor.id), Action.MANAGE, body.patient, now)
        if not rights.allowed:
            return 403, {"detail": rights.reason}
        password = presence.generate()
        hashed = await presence.hash_password(password)
        sealed = {} if body.delivery == "none" else sealed_request_fields(
            self.notify_key, {"password": password}, request_id=notice_id(f"{body.command_id}:password"),
            channel=body.delivery, recipient=body.patient)
        if not await self.store.put_pending_presence(body.command_id, hashed, sealed, now, body.patient):
            return 409, {"detail": "this command id was already used; send a new one"}
        command = PresencePasswordCommand(command="generate-presence-password", command_id=body.command_id,
                                          patient=body.patient, actor=body.actor, delivery=body.delivery)
        await self.service.out.command(command.model_dump(mode="json"), key=body.patient.encode())
        return 202, PresenceGenerated(command_id=body.command_id, presence_password=password).model_dump()

    async def redeem(self, raw: bytes) -> tuple[int, Any]:
        body, now = PresenceRedeemRequest.model_validate_json(raw), ms(self.clock())
        async with self._turn(body.patient):  # one guess at a time per patient: concurrent tries see every count
            return await self._redeem(body, now)

    async def _redeem(self, body: PresenceRedeemRequest, now: datetime) -> tuple[int, Any]:
        pro, patient = body.professional_id, body.patient
        known = await self.view.professional_known(pro)
        doc = await self.store.load(patient)
        keys = [presence.professional_key(pro, patient), presence.patient_key(patient, doc.presence_hash)]
        since = now - presence.WINDOW
        by_pro, on_patient = [await self.store.presence_failures_since(k, since) for k in keys] if known else [0, 0]
        refused = commands.presence_try(known, by_pro, on_patient)
        if refused is not None:
            return refused[0], {"detail": refused[1]}
        if not await presence.matches(doc.presence_hash, body.password):
            await self.store.presence_failed(keys, now, body.command_id)
            await self.audit.append(patient, now, "professional", pro, "redeem-presence-password", None, False,
                                    "wrong presence password", ref=body.command_id, via=calling_service.get() or "")
            notice = commands.guesses_notice(on_patient + 1)
            if notice is not None:
                await self.service.alert(patient, f"{body.command_id}:{notice}", notice,
                                         {"failures": str(on_patient + 1)})
            return 403, {"detail": "wrong presence password"}
        await self.store.put_redemption(body.command_id, patient, pro, now)
        command = RedeemPresencePassword(command="redeem-presence-password", command_id=body.command_id,
                                         patient=patient, actor={"kind": "professional", "id": pro})
        await self.service.out.command(command.model_dump(mode="json"), key=patient.encode())
        return 202, {"command_id": body.command_id}
