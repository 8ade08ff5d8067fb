"""What access's use cases share: the service's deterministic ids (`IDS`), millisecond time (`ms`, what MongoDB
keeps), the publishers a command's effects go out on (`Publishers`) and the patient's notices (`Notices`: in-app,
an alert also on her own channel, a sealed presence-password letter) under deterministic request ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from schemas.notify import Channel, NotificationRequestV1
from services.kit.commands import Ids, Publish

NS = uuid.UUID("0b5d2c4e-6a51-4f0e-9c1b-5d0f6c0a3e77")  # the service's id namespace
IDS = Ids(NS)


def ms(at: datetime) -> datetime:
    """Millisecond precision: what MongoDB stores, so a reloaded grant ends at the same instant."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


@dataclass
class Publishers:
    outcome: Publish
    changed: Publish
    notify: Publish
    expired: Publish
    command: Publish  # internal commands (grant ends, document visibility) go through the patient's partition


def notice_id(ref: str) -> str:
    """The deterministic request id of a notice (the presence use case seals a password to it in advance)."""
    return f"access-{IDS.of(ref)}"


class Notices:
    """Notices to the patient on `notify.requests.v1`, one request id per `ref` (notify sends each once)."""

    def __init__(self, publish: Publish) -> None:
        self.publish = publish

    async def notify(self, patient: str, ref: str, template: str, params: dict[str, str],
                     channel: Channel = Channel.INAPP, sealed: dict[str, str] | None = None) -> None:
        request = NotificationRequestV1(request_id=notice_id(ref), channel=channel, template_id=template,
                                        recipient=patient, parameters=params, **(sealed or {}))
        await self.publish(request.model_dump(mode="json"), key=request.request_id.encode())

    async def alert(self, patient: str, ref: str, template: str, params: dict[str, str]) -> None:
        """A notice in the portal and on the patient's own channel (the e-mail or SMS she chose; notify resolves
        it): an emergency access, repeated wrong presence passwords."""
        await self.notify(patient, ref, template, params)
        await self.notify(patient, f"{ref}:preferred", template, params, Channel.PREFERRED)
