"""The agency's presence password ("également envoyé par l'Agence eSanté"): when an account becomes active
(`activation.accounts.v1`), access generates a presence password and posts it by letter.

As with the patient's own (`presence_api.py`): only the argon2 hash is kept, with the letter's parameters sealed
to notify, under an internal command id derived from the activation event's id; the internal
`generate-presence-password` command (no secret) goes to the patient's partition, whose consumer makes that hash
the patient's one and sends the sealed letter. Once per activation event: a redelivered event finds its command's
hash already kept (the first one stands) or its effects done, so it neither posts a second letter nor replaces the
password. The password itself lives only in this function's memory and in the box only notify can open.
Activation activates only a person of the registry, so the event is not held back while access's own copy of
the registry catches up (it may lag, e.g. right after a restart).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from schemas.access import ActorRef, PresencePasswordCommand
from schemas.activation import AccountActivatedV1
from services.kit.sealing import sealed_request_fields

from . import presence
from .domain import AGENCY_ACTOR, agency_command_id
from .service import AccessService, ms, notice_id

log = structlog.get_logger("dsp.access.agency")
AGENCY = ActorRef(kind="operator", id=AGENCY_ACTOR)


class AgencyPresence:
    def __init__(self, service: AccessService, clock: Callable[[], datetime], notify_key: str | None) -> None:
        self.service, self.store, self.clock, self.notify_key = service, service.store, clock, notify_key

    async def issue(self, event: AccountActivatedV1) -> str:
        """Issue the activation's presence password (once); returns the internal command's id."""
        command_id, patient = agency_command_id(event), event.matricule
        if await self.store.effects_done(command_id):
            return command_id  # applied and the letter requested: a redelivery changes nothing
        if await self.store.pending_presence(command_id) is None:
            password = presence.generate()
            hashed = await presence.hash_password(password)
            sealed = sealed_request_fields(self.notify_key, {"password": password},
                                           request_id=notice_id(f"{command_id}:password"), channel="letter",
                                           recipient=patient)
            del password
            if not await self.store.put_pending_presence(command_id, hashed, sealed, ms(self.clock()), patient):
                log.info("agency presence password already issued for this activation; the first one stands")
        command = PresencePasswordCommand(command="generate-presence-password", command_id=command_id,
                                          patient=patient, actor=AGENCY, delivery="letter")
        await self.service.out.command(command.model_dump(mode="json"), key=patient.encode())
        log.info("agency presence password issued; posted by letter once applied", command_id=command_id,
                 activation_event=event.event_id)
        return command_id
