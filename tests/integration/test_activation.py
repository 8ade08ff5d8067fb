"""From the registry to an active, secured account, on the real stack: the letter is a real PDF, the e-mail
goes through a real SMTP server, the SMS through a real HTTP gateway; time moves on a FakeClock."""

from __future__ import annotations

import base64
import email
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pypdf import PdfReader

from infra.procs import free_port
from infra.sinks import SmsSink, SmtpSink
from services.activation.app import ActivationSettings
from services.activation.app import create_app as activation_app
from services.activation.service import NS
from services.notify.app import NotifySettings
from services.notify.app import create_app as notify_app
from tests.inprocess import FakeClock, InProcessWorker, file_ready, settings_from
from tests.integration.access_support import TopicReader
from tests.support import encode, eventually, make_matricule, person

CODE = re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")


class FixedCaptcha:
    def make(self) -> tuple[str, bytes]:
        return "KX7PA", b"\x89PNG fixed"


class FakeLuxTrust:
    async def verify(self, assertion: str, matricule: str) -> bool:
        return assertion == f"luxtrust-ok:{matricule}"


@pytest.fixture(scope="module")
def world(infra: Any, run_id: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    prefix, tmp = f"{run_id}act", tmp_path_factory.mktemp("outside-world")
    clock = FakeClock()
    smtp = SmtpSink(free_port(), tmp / "maildir").start()
    sms_port = free_port()
    base = {"DSP_KAFKA_BOOTSTRAP": infra.bootstrap, "DSP_MONGO_URI": infra.mongo_uri, "DSP_MONGO_DB_PREFIX": prefix,
            "DSP_KAFKA_GROUP_PREFIX": f"{prefix}-", "DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24),
            "DSP_RETRY_BACKOFF_MAX_S": "1"}
    act_port, notify_port = free_port(), free_port()
    activation = InProcessWorker(activation_app(settings_from(ActivationSettings, {
        **base, "DSP_ACTIVATION_HTTP_PORT": str(act_port), "DSP_ACTIVATION_CODE_KEY": secrets.token_hex(24)}),
        clock, FixedCaptcha(), FakeLuxTrust()), act_port).start()
    notify = InProcessWorker(notify_app(settings_from(NotifySettings, {
        **base, "DSP_NOTIFY_HTTP_PORT": str(notify_port), "DSP_NOTIFY_SMTP_PORT": str(smtp.controller.port),
        "DSP_NOTIFY_SMS_URL": f"http://127.0.0.1:{sms_port}/sms", "DSP_NOTIFY_LETTER_DIR": str(tmp / "letters")}),
        clock), notify_port).start()
    yield {"clock": clock, "smtp": smtp, "sms_port": sms_port, "letters": tmp / "letters", "activation": activation,
           "sms_file": tmp / "sms.jsonl"}
    activation.stop()
    notify.stop()
    smtp.stop()


class Portal:
    """What the gateway will do: send steps, wait for each outcome; read what the person receives."""

    def __init__(self, world: dict[str, Any], producer: AIOKafkaProducer, outcomes: TopicReader, sms: SmsSink,
                 matricule: str) -> None:
        self.world, self.producer, self.outcomes, self.sms, self.m = world, producer, outcomes, sms, matricule
        self.flow_id, self.n = secrets.token_urlsafe(32), 0
        self.seen: set[str] = set()  # one-time codes already read

    async def step(self, command: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        body = {"command": command, "command_id": f"{command}-{self.n}-{secrets.token_hex(6)}",
                "matricule": self.m, **fields}
        if command in ("set-password", "choose-channel", "resend-otp", "verify-otp", "link-luxtrust",
                       "skip-luxtrust", "confirm", "start"):
            body.setdefault("flow_id", self.flow_id)
        await self.producer.send_and_wait("activation.commands.v1", encode(body), key=self.m.encode())
        return await self.outcomes.wait(command_id=body["command_id"])

    async def captcha(self) -> str:
        status, text = self.world["activation"].http("POST", "/v1/captcha", b"{}")
        assert status == 200
        reply = json.loads(text)
        assert base64.b64decode(reply["image_png_base64"]).startswith(b"\x89PNG")
        return str(reply["captcha_id"])

    async def start(self, code: str) -> dict[str, Any]:
        return await self.step("start", activation_code=code, terms_version="2026-01",
                               captcha_id=await self.captcha(), captcha_answer="kx7pa")

    async def letter_code(self, generation: int = 1) -> str:
        """The code printed in the PDF letter notify wrote for this person (request id: deterministic)."""
        pdf = self.world["letters"] / f"activation-{uuid.uuid5(NS, f'letter:{self.m}:{generation}')}.pdf"
        await eventually(lambda: file_ready(pdf), within_s=120)  # a fresh consumer group may have history to read first
        text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
        assert "Agence eSanté" in text and "L-4011" in text  # the agency header and the address block
        codes = CODE.findall(text)
        assert len(codes) == 1
        return str(codes[0])

    async def mailed_code(self, to: str) -> str:
        """A one-time code from an e-mail to `to` not read before (a Maildir has no order)."""
        async def fresh() -> str | None:
            for mail in self.world["smtp"].messages():
                if mail["To"] != to:
                    continue
                body = email.message_from_bytes(bytes(mail)).get_payload(decode=True)
                found = re.search(rb"\b(\d{6})\b", body)
                if found and found.group(1).decode() not in self.seen:
                    return found.group(1).decode()
            return None
        code: str = await eventually(fresh)
        self.seen.add(code)
        return code

    async def texted_code(self, to: str) -> str:
        async def latest() -> str | None:
            texts = [t for t in self.sms.messages() if t["to"] == to]
            found = re.search(r"\b(\d{6})\b", texts[-1]["text"]) if texts else None
            return found.group(1) if found and found.group(1) not in self.seen else None
        code: str = await eventually(latest)
        self.seen.add(code)
        return code



@pytest.fixture
async def sms(world: dict[str, Any]) -> AsyncIterator[SmsSink]:
    sink = await SmsSink(world["sms_port"], world["sms_file"]).start()
    yield sink
    await sink.stop()


@pytest.fixture
async def portal_for(world: dict[str, Any], producer: AIOKafkaProducer, infra: Any,
                     sms: SmsSink) -> AsyncIterator[Any]:
    outcomes = await TopicReader(infra.bootstrap, "activation.events.v1").start()

    async def make(born: date, unique: str, **person_fields: Any) -> Portal:
        matricule = make_matricule(born, int(unique[:3], 16) % 1000)
        body = person(matricule, f"reg-{unique}", email=f"marie.{unique}@example.lu", mobile=_mobile(unique),
                      **person_fields)
        await producer.send_and_wait("registry.persons.v1", encode(body), key=matricule.encode())
        portal = Portal(world, producer, outcomes, sms, matricule)
        return portal

    yield make
    await outcomes.stop()


def _mobile(unique: str) -> str:
    return "+352621" + unique[:6].translate(str.maketrans("abcdef", "123456"))



async def test_from_the_letter_to_an_active_account_and_a_login(portal_for: Any, world: dict[str, Any],
                                                                unique: str, infra: Any) -> None:
    me: Portal = await portal_for(date(1980, 5, 17), unique)
    activated = await TopicReader(infra.bootstrap, "activation.accounts.v1").start()
    try:
        code = await me.letter_code()
        started = await me.start(code.lower().replace("-", " "))
        assert (started["accepted"], started["next_step"], started["details"]["minor"]) == (
            True, "set-password", "false")
        common = await me.step("set-password", password="password1")
        assert (common["accepted"], common["reason"]) == (False, "this password is too common")
        assert (await me.step("set-password", password=f"{me.m}x"))["reason"] == (
            "the password must not contain the matricule")
        assert (await me.step("set-password", password="Moselle-Riesling-1987"))["accepted"]

        sent = await me.step("choose-channel", channel="email")
        assert sent["details"]["sent_to"] == "m***@example.lu" and sent["next_step"] == "verify-otp"
        otp = await me.mailed_code(f"marie.{unique}@example.lu")
        wrong = await me.step("verify-otp", code="000000" if otp != "000000" else "111111")
        assert wrong["reason"] == "wrong one-time code"
        assert (await me.step("verify-otp", code=otp))["reason"] == "account secured"
        assert (await me.step("link-luxtrust", luxtrust_assertion="forged"))["reason"] == (
            "the LuxTrust assertion was not accepted")
        assert (await me.step("link-luxtrust", luxtrust_assertion=f"luxtrust-ok:{me.m}"))["accepted"]
        done = await me.step("confirm")
        assert (done["accepted"], done["reason"]) == (True, "account activated")
        event = await activated.wait(matricule=me.m)
        assert event["luxtrust"] is True and event["minor"] is False
    finally:
        await activated.stop()

    login_id, session = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    challenge = await me.step("login", login_id=login_id, password="Moselle-Riesling-1987", channel="sms")
    assert challenge["accepted"] and challenge["next_step"] == "login-verify-otp"
    texted = await me.texted_code(_mobile(unique))
    opened = await me.step("login-verify-otp", login_id=login_id, code=texted, session_token=session)
    assert opened["accepted"] and "session_expires_at" in opened["details"]
    status, text = world["activation"].http("POST", "/v1/sessions/check", encode({"session_token": session}))
    assert (status, json.loads(text)["matricule"]) == (200, me.m)
    reused = await me.step("login-verify-otp", login_id=login_id, code=texted, session_token=session)
    assert reused["reason"] == "no one-time code is waiting; ask for a new one"  # single use
    assert (await me.step("logout", session_token=session))["reason"] == "logged out"
    assert world["activation"].http("POST", "/v1/sessions/check", encode({"session_token": session}))[0] == 401

    # nothing secret was kept in clear by notify, nor printed by either worker
    letters = [json.loads(line) for line in (world["letters"] / "manifest.jsonl").read_text().splitlines()]
    assert all(me.m not in json.dumps(entry) for entry in letters)


async def test_codes_lock_expire_and_are_single_use(portal_for: Any, world: dict[str, Any], unique: str) -> None:
    clock: FakeClock = world["clock"]
    me: Portal = await portal_for(date(1975, 2, 3), unique)
    code = await me.letter_code()
    early = await me.step("set-password", password="Moselle-Riesling-1987")
    assert early["reason"] == "this activation was not started here; start again with the letter's code"
    bad_captcha = await me.step("start", activation_code=code, terms_version="2026-01",
                                captcha_id=await me.captcha(), captcha_answer="WRONG")
    assert bad_captcha["reason"] == "the captcha answer is wrong or expired; copy a new one"
    for left in (4, 3, 2, 1):
        assert (await me.start("AAAA-BBBB-CCCC"))["reason"] == f"wrong activation code; {left} tries left"
    assert (await me.start("AAAA-BBBB-CCCC"))["reason"] == "wrong activation code; the code is now locked"
    assert (await me.start(code))["reason"] == (
        "the activation code is locked after 5 wrong tries; ask the helpdesk for a new letter")

    assert (await me.step("reissue-code", operator="helpdesk-7"))["accepted"]
    new_code = await me.letter_code(generation=2)
    assert new_code != code
    assert (await me.start(code))["reason"] == "wrong activation code; 4 tries left"  # the old one is retired
    clock.advance(days=91)
    assert (await me.start(new_code))["reason"] == (
        "the activation code has expired or was used; ask the helpdesk for a new letter")
    clock.advance(days=-91)

    assert (await me.start(new_code))["accepted"]
    assert (await me.step("confirm"))["reason"] == "step out of order: set-password comes next"
    assert (await me.step("set-password", password="Schengen-2026-Wine"))["accepted"]
    assert (await me.step("choose-channel", channel="email"))["accepted"]
    first = await me.mailed_code(f"marie.{unique}@example.lu")
    assert (await me.step("resend-otp"))["reason"] == "a new code can be sent one minute after the previous one"
    clock.advance(minutes=5)
    assert (await me.step("verify-otp", code=first))["reason"] == "the one-time code has expired; ask for a new one"
    assert (await me.step("resend-otp"))["accepted"]
    second = await me.mailed_code(f"marie.{unique}@example.lu")
    for _ in range(5):
        assert (await me.step("verify-otp", code="999999" if second != "999999" else "888888"))["accepted"] is False
    assert (await me.step("verify-otp", code=second))["reason"] == "too many wrong one-time codes; ask for a new one"
    clock.advance(minutes=1)
    assert (await me.step("resend-otp"))["accepted"]
    assert (await me.step("verify-otp", code=await me.mailed_code(f"marie.{unique}@example.lu")))["accepted"]
    assert (await me.step("skip-luxtrust"))["accepted"] and (await me.step("confirm"))["accepted"]
    assert (await me.start(new_code))["reason"] == (
        "the activation code has expired or was used; ask the helpdesk for a new letter")

    for _ in range(5):
        wrong = await me.step("login", login_id=secrets.token_urlsafe(32), password="Not-my-password-1")
        assert wrong["reason"] == "wrong matricule or password"
    locked = await me.step("login", login_id=secrets.token_urlsafe(32), password="Schengen-2026-Wine")
    assert locked["reason"] == "the account is locked after repeated failed logins; contact the helpdesk"
    assert (await me.step("unlock", operator="helpdesk-7"))["accepted"]
    assert (await me.step("login", login_id=secrets.token_urlsafe(32), password="Schengen-2026-Wine"))["accepted"]


async def test_a_guardian_activates_a_minors_account_with_the_childs_letter(portal_for: Any, unique: str) -> None:
    child: Portal = await portal_for(date(2015, 6, 1), unique, guardians=[make_matricule(date(1984, 3, 9), 12)])
    started = await child.start(await child.letter_code())
    assert started["accepted"] and started["details"]["minor"] == "true"
