"""What the use cases do once a step is decided: notices to notify (their secrets sealed to notify's public key),
the outcome of every step and command on `activation.events.v1` for operations, and `account-activated` on
`activation.accounts.v1`. Never a secret on a topic."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import structlog

from schemas.activation import AccountActivatedV1, ActivationOutcomeV1
from schemas.notify import NotificationRequestV1
from services.kit.commands import Ids, Publish, send
from services.kit.sealing import sealed_request_fields

from ..domain.account import Account
from ..domain.flow import Step

log = structlog.get_logger("dsp.activation")
NS = uuid.UUID("3c1f7f0e-2b7d-4a8e-9f61-0d2b5c9e4a10")  # ids namespace (letter files are named from it)
IDS = Ids(NS)


@dataclass
class Publishers:
    outcome: Publish
    activated: Publish
    notify: Publish


class Effects:
    def __init__(self, out: Publishers, clock: Callable[[], datetime], notify_key: str | None) -> None:
        self.out, self.clock, self.notify_key = out, clock, notify_key

    async def notify(self, ref: str, recipient: str, channel: str, template: str, params: dict[str, str],
                     destination: str | None = None, sealed: dict[str, str] | None = None) -> None:
        """A notification request, its id derived from `ref` (a redelivery asks for the same one)."""
        request_id = f"activation-{IDS.of(ref)}"
        request = NotificationRequestV1.model_validate({
            "request_id": request_id, "channel": channel, "template_id": template, "recipient": recipient,
            "parameters": params, "destination": destination,
            **sealed_request_fields(self.notify_key, sealed or {}, request_id=request_id, channel=channel,
                                    recipient=recipient, destination=destination)})
        await self.out.notify(request.model_dump(mode="json", exclude_none=True), key=request.request_id.encode())

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

    async def send_outcome(self, outcome: ActivationOutcomeV1, matricule: str) -> None:
        """An outcome already published, sent again (a redelivered helpdesk command: the same event, same bytes)."""
        await send(self.out.outcome, outcome, matricule)


def _channel(chosen: str | None) -> Literal["email", "sms"] | None:
    """The one-time-code channel the person chose, as the account event says it (notify sends her alerts there)."""
    return "email" if chosen == "email" else "sms" if chosen == "sms" else None
