"""The use case "deliver a notification request" (`notify.requests.v1`), once: claim it in the outbox (unique
request id), render the template, send it on its channel (`domain.contacts.destination`; `preferred`: the e-mail or
SMS the person chose), record the delivery (never the codes) — an in-app one then goes on the person's list (the
store's inbox, again on every redelivery) — and say so on `notify.events.v1` (`domain.delivery`).

Secret parameters come sealed to notify's key (`sealed_parameters`, see services/kit/sealing.py): they are
opened here, merged over the plain parameters for rendering, and exist only in memory — the outbox keeps
"[sent, not kept]" for each of them. A sealed part that does not open fails the request for good (its dead
letter says why), never retried.

A redelivered request that was delivered (or failed for good) is ignored; one whose delivery was cut short
is sent again — at least once, under the same reference, for a provider to de-duplicate."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

import structlog

from schemas.notify import Channel, NotificationRequestV1
from services.kit.deadletter import RetryPolicy
from services.kit.errors import BadMessage
from services.kit.sealing import SealError, request_binding, unseal

from ..domain import templates
from ..domain.contacts import Unreachable, destination, letter_address
from ..domain.delivery import delivery_event
from ..store.protocol import Store
from .channels import Mailer, Printer, Refused, Texter

log = structlog.get_logger("dsp.notify")


class Delivery:
    def __init__(self, store: Store, smtp: Mailer, sms: Texter, printer: Printer,
                 publish: Callable[..., Awaitable[Any]], clock: Callable[[], datetime],
                 pseudonym: Callable[[str], str], retry: RetryPolicy, seal_key: str) -> None:
        self.store = store
        self.smtp, self.sms, self.printer, self.publish = smtp, sms, printer, publish
        self.clock, self.pseudonym, self.retry = clock, pseudonym, retry
        self._seal_key = seal_key

    def _unseal(self, req: NotificationRequestV1) -> tuple[dict[str, str], str | None]:
        """The sealed secret parameters, opened (only ever held in memory), or why they do not open."""
        if req.sealed_parameters is None:
            return {}, None
        try:
            return unseal(self._seal_key, req.sealed_parameters, bound_to=request_binding(
                req.request_id, req.channel.value, req.recipient, req.destination)), None
        except SealError as exc:
            return {}, f"sealed_parameters: {exc}"

    async def handle(self, req: NotificationRequestV1) -> None:
        now = self.clock()
        secrets, unopened = self._unseal(req)
        entry: dict[str, Any] = {"_id": req.request_id, "channel": req.channel.value, "template_id": req.template_id,
                 "locale": req.locale.value, "recipient": req.recipient,
                 "parameters": templates.stored({**req.parameters, **secrets}, secret=secrets.keys()),
                 "status": "accepted", "attempts": 0, "received_at": now, "delivered_at": None, "read": False}
        existing = await self.store.claim(entry)
        if existing is None and "locale" in req.model_fields_set:  # the language the person last asked for
            await self.store.remember_locale(req.recipient, req.locale.value)  # (their document notices use it)
        if existing is not None:
            if existing.get("status") in ("delivered", "failed"):
                log.info("duplicate notification request ignored", request_id=req.request_id)
                if existing.get("status") == "delivered" and existing.get("channel") == Channel.INAPP.value:
                    await self.store.show(existing)  # listed again: a crash may have come before it was listed
                if existing.get("event"):  # its event, as first stored: a crash may have come before it was sent
                    await self._send(existing["event"])
                return
            entry = existing
        attempts = entry.get("attempts", 0) + 1
        try:
            if unopened is not None:
                raise BadMessage(unopened)
            used = await self._deliver(req, now, secrets)
        except (Refused, templates.UnknownTemplate, Unreachable, BadMessage) as exc:
            final = not isinstance(exc, Refused) or self.retry.gives_up(attempts)
            event = self._event(req, "failed", attempts, str(exc)) if final else None
            await self.store.record(req.request_id, {
                "attempts": attempts, "status": "failed" if final else "retrying", "reason": str(exc),
                **({"event": event} if event else {})})
            if event is None:
                raise
            await self._send(event)
            raise BadMessage(str(exc)) from exc
        event = self._event(req, "delivered", attempts, channel=used)
        await self.store.record(req.request_id, {
            "status": "delivered", "delivered_at": self.clock(), "attempts": attempts, "event": event,
            "channel": used.value})
        if req.channel is Channel.INAPP:  # on the person's list once delivered (as first received)
            await self.store.show(entry)
        await self._send(event)
        log.info("notification delivered", request_id=req.request_id, channel=used.value,
                 template_id=req.template_id, patient_ref=self.pseudonym(req.recipient))

    async def _deliver(self, req: NotificationRequestV1, now: datetime, secrets: dict[str, str]) -> Channel:
        """Render and send; the channel it went out on (`preferred` resolved to the person's e-mail or SMS)."""
        params = {**req.parameters, **secrets}
        contact = await self.store.contact(req.recipient)
        params.setdefault("family_name", contact.get("family_name", ""))
        subject, body = templates.render(req.template_id, req.locale, params)
        channel, to = destination(req.channel, req.destination, contact)
        if channel is Channel.INAPP:  # the notification list shows what was stored: secrets masked
            _, shown = templates.render(req.template_id, req.locale, templates.stored(params, secret=secrets.keys()))
            await self.store.record(req.request_id, {"subject": subject, "body": shown})
        elif channel is Channel.EMAIL:
            await self.smtp.send(to, subject, body, req.request_id)
        elif channel is Channel.SMS:
            await self.sms.send(to, f"{subject}: {body}", req.request_id)
        else:  # a letter, to the person's postal address
            lines = letter_address(params, contact)
            path = await self.printer.print(req.request_id, lines, subject, body, now, self.pseudonym(req.recipient))
            await self.store.record(req.request_id, {"letter_file": path.name})
        return channel

    def _event(self, req: NotificationRequestV1, status: Literal["delivered", "failed"], attempts: int,
               reason: str = "", channel: Channel | None = None) -> dict[str, Any]:
        return delivery_event(req, status, attempts, self.clock(), reason, channel)

    async def _send(self, event: dict[str, Any]) -> None:
        await self.publish(event, key=str(event["request_id"]).encode(), headers={"event-id": event["event_id"]})
