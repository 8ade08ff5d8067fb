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

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from altcha.v1 import solve_challenge
from argon2 import PasswordHasher
from pypdf import PdfReader

from infra.procs import free_port
from infra.sinks import SmsSink, SmtpSink
from services.activation.app import ActivationSettings
from services.activation.app import create_app as activation_app
from services.activation.service import NS
from services.kit.servicetokens import Signer
from services.notify.app import NotifySettings
from services.notify.app import create_app as notify_app
from tests.inprocess import FakeClock, InProcessWorker, file_ready, settings_from
from tests.integration.access_support import TopicReader
from tests.support import as_caller, encode, eventually, fixed_service_key, make_matricule, person

CODE = re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")


class FixedCaptcha:
    """Always the same answer, in a real captcha image (the portal's pages show it)."""

    image = b""

    def make(self) -> tuple[str, bytes]:
        if not FixedCaptcha.image:
            from captcha.image import ImageCaptcha

            FixedCaptcha.image = ImageCaptcha(width=200, height=70).generate("KX7PA").getvalue()
        return "KX7PA", FixedCaptcha.image


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
           "sms_file": tmp / "sms.jsonl", "url": f"http://127.0.0.1:{act_port}"}
    activation.stop()
    notify.stop()
    smtp.stop()


class Portal:
    """What the gateway does: call activation's HTTP API step by step; read what the person receives."""

    def __init__(self, world: dict[str, Any], producer: AIOKafkaProducer, outcomes: TopicReader, sms: SmsSink,
                 matricule: str) -> None:
        self.world, self.producer, self.outcomes, self.sms, self.m = world, producer, outcomes, sms, matricule
        self.flow, self.login_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)  # never issued
        self.device: str | None = None
        self.seen: set[str] = set()  # one-time codes already read

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.world["url"], timeout=30,
                                     headers=as_caller("gateway", "activation")) as http:
            reply = await http.post(path, json=body)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    async def step(self, command: str, **fields: Any) -> dict[str, Any]:
        return await self.post("/v1/activation/step", {"flow_token": self.flow, "command": command, **fields})

    async def captcha(self) -> dict[str, str]:
        reply = await self.post("/v1/captcha", {})
        assert base64.b64decode(reply["image_png_base64"]).startswith(b"\x89PNG")
        return {"captcha_id": reply["captcha_id"], "captcha_answer": "kx7pa"}

    async def altcha(self) -> dict[str, str]:
        """The accessible challenge, solved as the browser's widget does (a proof of work, no image)."""
        challenge = await self.post("/v1/altcha", {})
        solution = solve_challenge(challenge["challenge"], challenge["salt"], challenge["algorithm"],
                                   challenge["maxnumber"])
        assert solution is not None
        payload = {k: challenge[k] for k in ("algorithm", "challenge", "salt", "signature")}
        return {"altcha": base64.b64encode(json.dumps({**payload, "number": solution.number}).encode()).decode()}

    async def start(self, code: str, challenge: dict[str, str] | None = None) -> dict[str, Any]:
        answer = await self.post("/v1/activation/start", {
            "matricule": self.m, "activation_code": code, "terms_version": "2026-01",
            "challenge": challenge or await self.captcha()})
        self.flow = answer.get("token") or self.flow
        return answer

    async def login(self, password: str, challenge: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
        answer = await self.post("/v1/login", {"matricule": self.m, "password": password, "challenge": challenge,
                                               "device_token": self.device, **fields})
        self.login_token = answer.get("token") or self.login_token
        return answer

    async def verify(self, code: str) -> dict[str, Any]:
        answer = await self.post("/v1/login/verify", {"login_token": self.login_token, "code": code})
        self.device = answer.get("device_token") or self.device
        return answer

    async def helpdesk(self, command: str, signed_by: str = "console", command_id: str | None = None) -> dict[str, Any]:
        """A helpdesk command as the console sends it: naming its logged-in operator, signed with its key."""
        command_id = command_id or f"{command}-{secrets.token_hex(6)}"
        assertion = Signer(signed_by, fixed_service_key(signed_by)).assertion("activation", "helpdesk-7",
                                                                             cmd=command_id, matricule=self.m)
        body = {"command": command, "command_id": command_id, "matricule": self.m, "operator": "helpdesk-7",
                "operator_assertion": assertion}
        await self.producer.send_and_wait("activation.commands.v1", encode(body), key=self.m.encode())
        return await self.outcomes.wait(command_id=body["command_id"])

    async def letter_code(self, generation: int = 1) -> str:
        """The code printed in the PDF letter notify wrote for this person (request id: deterministic)."""
        pdf = self.world["letters"] / f"activation-{uuid.uuid5(NS, f'letter:{self.m}:{generation}')}.pdf"
        await eventually(lambda: file_ready(pdf), within_s=120)  # a fresh consumer group may have history to read first
        text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
        assert "Agence eSanté" in text and "L-4011" in text  # the agency header and the address block
        codes = CODE.findall(text)
        assert len(codes) == 1
        return str(codes[0])

    async def mailed(self, to: str, pattern: bytes = rb"\b(\d{6})\b") -> str:
        """The first match of `pattern` in an e-mail to `to` not read before (a Maildir has no order)."""
        async def fresh() -> str | None:
            for mail in self.world["smtp"].messages():
                if mail["To"] != to:
                    continue
                body = email.message_from_bytes(bytes(mail)).get_payload(decode=True)
                found = re.search(pattern, body)
                if found and found.group(1).decode() not in self.seen:
                    return found.group(1).decode()
            return None
        code: str = await eventually(fresh)
        self.seen.add(code)
        return code

    async def told(self, to: str, failures: int) -> bool:
        """The owner got the e-mail about `failures` wrong attempts (in French, the default locale)."""
        async def found() -> bool:
            bodies = [email.message_from_bytes(bytes(m)).get_payload(decode=True)
                      for m in self.world["smtp"].messages() if m["To"] == to]
            return any(f" {failures} fois".encode() in body for body in bodies)
        return bool(await eventually(found))

    async def mailed_code(self, to: str) -> str:
        return await self.mailed(to)

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
        assert (await me.step("set-password", password=f"{me.m}x"))["accepted"] is False
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
        assert (done["accepted"], done["reason"]) == (True, "account activated") and done["device_token"]
        event = await activated.wait(matricule=me.m)
        assert event["luxtrust"] is True and event["minor"] is False
        # the channel she chose, where notify sends her alerts (an address, never a secret)
        assert (event["channel"], event["destination"]) == ("email", f"marie.{unique}@example.lu")
    finally:
        await activated.stop()

    challenge = await me.login("Moselle-Riesling-1987", channel="sms")
    assert challenge["accepted"] and challenge["next_step"] == "login-verify-otp" and challenge["token"]
    texted = await me.texted_code(_mobile(unique))
    opened = await me.verify(texted)
    assert opened["accepted"] and "session_expires_at" in opened["details"]
    session = opened["token"]
    async with httpx.AsyncClient(base_url=world["url"], headers=as_caller("gateway", "activation")) as http:
        check = (await http.post("/v1/sessions/check", json={"session_token": session})).json()
        assert check["matricule"] == me.m
        reused = await me.verify(texted)  # the login token is spent with its code
        assert reused["reason"] == "this login was not started here, or it took too long; log in again"
        assert (await me.post("/v1/sessions/end", {"session_token": session}))["reason"] == "logged out"
        assert (await http.post("/v1/sessions/check", json={"session_token": session})).status_code == 401

    # nothing secret was kept in clear by notify
    letters = [json.loads(line) for line in (world["letters"] / "manifest.jsonl").read_text().splitlines()]
    assert all(me.m not in json.dumps(entry) for entry in letters)


async def test_a_stranger_never_makes_the_letter_useless(portal_for: Any, world: dict[str, Any],
                                                         unique: str, mongo: Any, run_id: str) -> None:
    """Wrong codes bring a challenge and a growing delay (capped at 15 minutes), never a lock; the owner is
    told; unknown matricules, wrong and expired codes get one answer."""
    clock: FakeClock = world["clock"]
    me: Portal = await portal_for(date(1975, 2, 3), unique)
    code = await me.letter_code()
    assert (await me.step("set-password", password="Moselle-Riesling-1987"))["reason"].startswith(
        "this activation was not started here")
    no_challenge = await me.post("/v1/activation/start", {"matricule": me.m, "activation_code": code,
                                                          "terms_version": "2026-01", "challenge": {}})
    assert no_challenge["challenge_required"] and not no_challenge["accepted"]
    bad_captcha = await me.start(code, {**await me.captcha(), "captcha_answer": "WRONG"})
    assert bad_captcha["reason"].startswith("solve the challenge")
    generic = await me.start("AAAA-BBBB-CCCC")
    stranger = Portal(world, me.producer, me.outcomes, me.sms, make_matricule(date(1975, 2, 3), 999))
    unknown = await stranger.start("AAAA-BBBB-CCCC")
    assert unknown == generic and generic["reason"].startswith("this matricule and activation code do not match")
    waits = []
    for _ in range(13):  # a stranger who knows the matricule keeps guessing, as fast as the delays let them
        answer = await me.start("AAAA-BBBB-CCCC")
        if answer.get("retry_after_s"):
            waits.append(answer["retry_after_s"])
            clock.advance(seconds=answer["retry_after_s"])
            answer = await me.start("AAAA-BBBB-CCCC")
        assert answer["reason"] == generic["reason"]
    assert waits == sorted(waits) and waits[-1] == 900  # 1 s, 2 s, 4 s ... capped at 15 minutes
    assert await me.told(f"marie.{unique}@example.lu", 3) and await me.told(f"marie.{unique}@example.lu", 10)
    held = await me.start(code, await me.altcha())  # the owner, with the right code, during the delay
    assert held["retry_after_s"] == 900 and not held["accepted"]
    clock.advance(minutes=15)
    owner = await me.start(code, await me.altcha())  # the accessible challenge, no image
    assert owner["accepted"], owner
    assert (await me.step("confirm"))["reason"] == "step out of order: set-password comes next"

    forged = await me.helpdesk("reissue-code", signed_by="gateway")  # published by another service
    assert forged["reason"] == "the helpdesk command is not signed by an authenticated operator"
    reissued = await me.helpdesk("reissue-code", command_id=f"reissue-{unique}")
    assert reissued["accepted"]
    new_code = await me.letter_code(generation=2)
    assert new_code != code
    await me.helpdesk("reissue-code", command_id=f"reissue-{unique}")  # redelivered: answered as before

    async def both() -> list[dict[str, Any]]:
        await me.outcomes.poll()
        found = me.outcomes.matching(command_id=f"reissue-{unique}")
        return found if len(found) >= 2 else []

    first, second = (await eventually(both))[:2]
    assert first == second == reissued
    assert (await mongo[f"{run_id}act_activation"]["accounts"].find_one({"_id": me.m}))["generation"] == 2
    assert (await me.start(code))["reason"] == generic["reason"]  # the old letter is retired
    clock.advance(days=91)
    assert (await me.start(new_code))["reason"] == generic["reason"]  # expired: the same answer
    clock.advance(days=-91)
    assert (await me.start(new_code))["accepted"]


async def test_one_time_codes_count_per_account_across_codes(portal_for: Any, world: dict[str, Any],
                                                             unique: str) -> None:
    clock: FakeClock = world["clock"]
    me: Portal = await portal_for(date(1979, 4, 5), unique)
    mail = f"marie.{unique}@example.lu"
    assert (await me.start(await me.letter_code()))["accepted"]
    assert (await me.step("set-password", password="Schengen-2026-Wine"))["accepted"]
    assert (await me.step("choose-channel", channel="email"))["accepted"]
    first = await me.mailed_code(mail)
    assert (await me.step("resend-otp"))["reason"] == "a new code can be sent one minute after the previous one"
    clock.advance(minutes=5)
    assert (await me.step("verify-otp", code=first))["reason"] == "the one-time code has expired; ask for a new one"
    assert (await me.step("resend-otp"))["accepted"]
    second = await me.mailed_code(mail)
    assert (await me.step("verify-otp", code=second))["accepted"]
    assert (await me.step("skip-luxtrust"))["accepted"] and (await me.step("confirm"))["accepted"]

    evaluated = 0
    for _ in range(3):  # an attacker with the password: 3 logins, 6 wrong codes each
        assert (await me.login("Schengen-2026-Wine", channel="email"))["accepted"]
        code = await me.mailed_code(mail)
        for _ in range(6):
            wrong = await me.verify("999999" if code != "999999" else "888888")
            evaluated += wrong["reason"] == "wrong one-time code"
        clock.advance(minutes=1)
    assert evaluated == 7  # 5 per account across codes, then one guess per new code after a doubling wait: not 18
    held = await me.verify(code)
    assert held["reason"].startswith("too many wrong one-time codes")
    clock.advance(minutes=15)
    assert (await me.login("Schengen-2026-Wine", channel="email"))["accepted"]
    assert (await me.verify(await me.mailed_code(mail)))["accepted"]


async def test_failed_logins_never_lock_the_owner_out(portal_for: Any, world: dict[str, Any], unique: str) -> None:
    clock: FakeClock = world["clock"]
    me: Portal = await portal_for(date(1971, 8, 9), unique)
    mail, password = f"marie.{unique}@example.lu", "Wiltz-Valley-2030"
    assert (await me.start(await me.letter_code()))["accepted"]
    assert (await me.step("set-password", password=password))["accepted"]
    assert (await me.step("choose-channel", channel="email"))["accepted"]
    assert (await me.step("verify-otp", code=await me.mailed_code(mail)))["accepted"]
    assert (await me.step("skip-luxtrust"))["accepted"]
    me.device = (await me.step("confirm"))["device_token"]  # the owner's own browser

    attacker = Portal(world, me.producer, me.outcomes, me.sms, me.m)
    nobody = Portal(world, me.producer, me.outcomes, me.sms, make_matricule(date(1971, 8, 9), 998))
    for i in range(3):
        wrong, unknown = await attacker.login("Not-my-password-1"), await nobody.login("Not-my-password-1")
        assert wrong == unknown and wrong["reason"] == "wrong matricule or password"
        assert wrong["challenge_required"] is (i == 2)
    waiting = await attacker.login("Not-my-password-1")
    assert (waiting["retry_after_s"], waiting["challenge_required"]) == (1, True)
    assert waiting == await nobody.login("Not-my-password-1")  # an unknown matricule looks the same
    clock.advance(seconds=1)
    assert (await attacker.login("Not-my-password-1"))["reason"].startswith("solve the challenge")
    assert (await attacker.login("Not-my-password-1", await me.captcha()))["reason"] == "wrong matricule or password"
    assert await me.told(mail, 3)  # the owner is told

    trusted = await me.login(password, await me.altcha(), channel="email")  # the owner's browser is not delayed
    assert trusted["accepted"], trusted
    assert (await me.verify(await me.mailed_code(mail)))["accepted"]
    session = (await me.verify("000000"))  # the login is spent
    assert not session["accepted"]

    for _ in range(3):  # more failures: a new browser waits, at most 15 minutes
        clock.advance(minutes=15)
        assert (await attacker.login("Not-my-password-1", await me.captcha()))["accepted"] is False
    elsewhere = Portal(world, me.producer, me.outcomes, me.sms, me.m)
    held = await elsewhere.login(password, await me.captcha())
    assert held["retry_after_s"] and held["retry_after_s"] <= 900
    clock.advance(seconds=held["retry_after_s"])
    assert (await elsewhere.login(password, await me.captcha(), channel="email"))["accepted"]
    assert (await me.helpdesk("unlock"))["reason"] == "failure counts cleared"
    assert (await elsewhere.login(password, channel="email"))["accepted"]  # no challenge needed any more


async def test_a_hash_made_with_older_parameters_is_replaced_at_the_next_login(
        portal_for: Any, world: dict[str, Any], unique: str, mongo: Any, run_id: str) -> None:
    me: Portal = await portal_for(date(1983, 7, 1), unique)
    mail, accounts = f"marie.{unique}@example.lu", mongo[f"{run_id}act_activation"]["accounts"]
    assert (await me.start(await me.letter_code()))["accepted"]
    assert (await me.step("set-password", password="Vianden-Bridge-2033"))["accepted"]
    assert (await me.step("choose-channel", channel="email"))["accepted"]
    assert (await me.step("verify-otp", code=await me.mailed_code(mail)))["accepted"]
    assert (await me.step("skip-luxtrust"))["accepted"] and (await me.step("confirm"))["accepted"]
    stored = (await accounts.find_one({"_id": me.m}))["password_hash"]
    assert stored.startswith("$argon2id$v=19$m=7168,t=5,p=1$")  # an OWASP minimum, not argon2-cffi's defaults
    for older in (PasswordHasher(), PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)):
        # argon2-cffi's defaults, then the OWASP setting this mesh stored before
        await accounts.update_one({"_id": me.m}, {"$set": {"password_hash": older.hash("Vianden-Bridge-2033")}})
        assert (await me.login("Vianden-Bridge-2033", channel="email"))["accepted"]  # the old hash still verifies
        assert (await accounts.find_one({"_id": me.m}))["password_hash"].startswith("$argon2id$v=19$m=7168,t=5,p=1$")
    otp = (await accounts.find_one({"_id": me.m}))["login_otp"]["hash"]
    assert len(otp) == 64 and not otp.startswith("$argon2")  # a one-time code: an HMAC under the server's key


async def test_passwords_change_sessions_end_everywhere_and_forgotten_passwords(
        portal_for: Any, world: dict[str, Any], unique: str) -> None:
    me: Portal = await portal_for(date(1982, 11, 30), unique)
    mail = f"marie.{unique}@example.lu"
    assert (await me.start(await me.letter_code()))["accepted"]
    assert (await me.step("set-password", password="Remich-Boat-2031"))["accepted"]
    assert (await me.step("choose-channel", channel="email"))["accepted"]
    assert (await me.step("verify-otp", code=await me.mailed_code(mail)))["accepted"]
    assert (await me.step("skip-luxtrust"))["accepted"] and (await me.step("confirm"))["accepted"]
    sessions = []
    for _ in range(2):
        assert (await me.login("Remich-Boat-2031", channel="email"))["accepted"]
        sessions.append((await me.verify(await me.mailed_code(mail)))["token"])
    async with httpx.AsyncClient(base_url=world["url"], headers=as_caller("gateway", "activation")) as http:
        async def alive(token: str) -> bool:
            return (await http.post("/v1/sessions/check", json={"session_token": token})).status_code == 200

        wrong = await me.post("/v1/password/change", {"session_token": sessions[0], "password": "nope-1234",
                                                      "new_password": "Echternach-2032"})
        assert wrong["reason"] == "the current password is wrong"
        changed = await me.post("/v1/password/change", {"session_token": sessions[0], "password": "Remich-Boat-2031",
                                                        "new_password": "Echternach-2032"})
        assert changed["accepted"] and await alive(sessions[0]) and not await alive(sessions[1])
        assert not (await me.login("Remich-Boat-2031"))["accepted"]
        assert (await me.login("Echternach-2032", channel="email"))["accepted"]
        sessions.append((await me.verify(await me.mailed_code(mail)))["token"])
        ended = await me.post("/v1/sessions/end", {"session_token": sessions[2], "everywhere": True})
        assert ended["reason"] == "logged out everywhere"
        assert not await alive(sessions[0]) and not await alive(sessions[2])

    forgot = await me.post("/v1/password/forgot", {"matricule": me.m, "challenge": await me.altcha()})
    nobody = await me.post("/v1/password/forgot", {"matricule": make_matricule(date(1982, 11, 30), 997),
                                                   "challenge": await me.altcha()})
    assert forgot == nobody
    assert forgot["reason"] == "if this matricule has an account, a new letter is on its way by post"
    assert await me.letter_code(generation=2)


async def test_a_guardian_activates_a_minors_account_with_the_childs_letter(portal_for: Any, unique: str) -> None:
    child: Portal = await portal_for(date(2015, 6, 1), unique, guardians=[make_matricule(date(1984, 3, 9), 12)])
    started = await child.start(await child.letter_code())
    assert started["accepted"] and started["details"]["minor"] == "true"
