"""What the portal's browser tests share: a patient the registry knows, activated through the API (the wizard has
its own test), then logged in at the browser as a person does — matricule, password, the code from the e-mail."""

from __future__ import annotations

import re
from typing import Any

from aiokafka import AIOKafkaProducer

from infra.sinks import SmtpSink
from tests.browser import Person
from tests.integration.test_gateway import onboard
from tests.support import eventually

PASSWORD = "Clervaux-Abbey-77"  # onboard's


def codes(smtp: SmtpSink, to: str) -> list[str]:
    """Every six-digit code e-mailed to `to`, oldest first."""
    found = (re.search(rb"\b(\d{6})\b", m.get_payload(decode=True)) for m in smtp.messages() if m["To"] == to)
    return [f.group(1).decode() for f in found if f]


async def activated(portal: dict[str, Any], producer: AIOKafkaProducer, matricule: str, tag: str,
                    **person_fields: Any) -> str:
    """The registry publishes the person, who activates and logs in once through the API; their e-mail address."""
    web = await onboard(portal, producer, matricule, tag, **person_fields)
    await web.aclose()
    return f"{tag}@example.lu"


async def log_in(person: Person, portal: dict[str, Any], matricule: str, mail: str,
                 password: str = PASSWORD) -> Person:
    """At the browser: the login page, the one-time code read from the mailbox, then the DSP's home page."""
    before = set(codes(portal["smtp"], mail))
    person.open("/login").type("matricule", matricule).type("password", password)
    person.tick("channel-email").press("login")

    async def fresh() -> str | None:
        new = [c for c in codes(portal["smtp"], mail) if c not in before]
        return new[-1] if new else None
    code = await eventually(fresh, within_s=60)
    person.type("code", code).press("verify")
    assert person.path.startswith("/home"), (person.path, person.text[:300])
    return person
