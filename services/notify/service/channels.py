"""Delivery for real: e-mail over SMTP (aiosmtplib), SMS through an HTTP SMS gateway (httpx), postal letters
as PDF files (reportlab) in an outbox folder with a manifest for the print provider.

Failures are classified for the dead-letter middleware: an unreachable server is a ConnectionError (wait and
retry, never dead-letter); a refusal by the server is `Refused` (retried a few times, then failed for good).
The use cases see them through `Mailer`, `Texter` and `Printer` (the unit tests' doubles are in tests/fakes/notify.py).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib
import httpx
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas


class Refused(RuntimeError):
    """The provider answered and refused this message."""


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str, reference: str) -> None: ...


class Texter(Protocol):
    async def send(self, to: str, text: str, reference: str) -> None: ...


class Printer(Protocol):
    async def print(self, reference: str, address: list[str], subject: str, body: str, when: datetime,
                    recipient_ref: str) -> Path: ...


class Smtp:
    def __init__(self, host: str, port: int, sender: str) -> None:
        self.host, self.port, self.sender = host, port, sender

    async def send(self, to: str, subject: str, body: str, reference: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message["Message-ID"] = f"<{reference}@dsp-mesh>"
        message.set_content(body)
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port, timeout=10)
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            raise ConnectionError(f"SMTP server unreachable: {type(exc).__name__}") from exc
        except aiosmtplib.SMTPException as exc:
            raise Refused(f"SMTP server refused the message: {type(exc).__name__}") from exc


class SmsGateway:
    """A provider-agnostic HTTP SMS gateway: POST {to, text, reference} with a bearer token."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.client = httpx.AsyncClient(timeout=10)

    async def send(self, to: str, text: str, reference: str) -> None:
        try:
            response = await self.client.post(self.url, json={"to": to, "text": text, "reference": reference},
                                              headers={"authorization": f"Bearer {self.token}"})
        except httpx.TransportError as exc:
            raise ConnectionError(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise ConnectionError(f"SMS gateway unavailable (HTTP {response.status_code})")
        if response.status_code >= 400:
            raise Refused(f"SMS gateway refused the message (HTTP {response.status_code})")

    async def close(self) -> None:
        await self.client.aclose()


class LetterPrinter:
    """One PDF per letter in `folder`, listed in `manifest.jsonl` for the print provider."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def print(self, reference: str, address: list[str], subject: str, body: str, when: datetime,
                    recipient_ref: str) -> Path:
        return await asyncio.to_thread(self._print, reference, address, subject, body, when, recipient_ref)

    def _print(self, reference: str, address: list[str], subject: str, body: str, when: datetime,
               recipient_ref: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{reference}.pdf"
        pdf = canvas.Canvas(str(path), pagesize=A4)
        pdf.setTitle(subject)
        height = A4[1]
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(20 * mm, height - 20 * mm, "Agence eSanté — Dossier de Soins Partagé")
        pdf.setFont("Helvetica", 9)
        pdf.drawString(20 * mm, height - 26 * mm, "125, route d'Esch · L-1471 Luxembourg · helpdesk@esante.lu")
        pdf.setFont("Helvetica", 11)
        for i, line in enumerate(address):  # window envelope position
            pdf.drawString(110 * mm, height - (50 + 5 * i) * mm, line)
        pdf.drawString(20 * mm, height - 85 * mm, f"Luxembourg, {when:%d.%m.%Y}")
        pdf.setFont("Helvetica-Bold", 12)
        pdf.drawString(20 * mm, height - 95 * mm, subject)
        pdf.setFont("Helvetica", 11)
        y = height - 105 * mm
        for paragraph in body.split("\n"):
            for line in _wrap(paragraph, 90):
                pdf.drawString(20 * mm, y, line)
                y -= 6 * mm
        pdf.showPage()
        pdf.save()
        entry = {"reference": reference, "file": path.name, "subject": subject, "created_at": when.isoformat(),
                 "recipient_ref": recipient_ref, "pages": 1}
        with (self.folder / "manifest.jsonl").open("a", encoding="utf-8") as manifest:
            manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return path


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]

