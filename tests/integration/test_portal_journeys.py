"""Every myDSP screen of the agency's leaflets, walked through the portal API only (issue 12): the test sets up
what the outside world publishes (the registry's persons, laboratories' results, the professional directory) and
then is a front-end — HTTP to the gateway, nothing else. Each answer is also checked against the route's schema
in the gateway's OpenAPI document.

(a) a patient, and (c) the professionals who read her DSP: latest documents, search, the timeline, a lab result's
values and its correction in the versions, the file, trusted circle / referring GP / emergency access / consents,
blocked documents, an assistant added as the leaflet says (number → name → confirm), the audit trail with names
and titles, notifications read and unread, the presence password, the login password; a professional's patients,
her documents paged, a detail with values, the blocked one hidden, break-the-glass with its justification in the
patient's audit trail and notice. (b) a parent acting for two children: both listed by name, each child's
documents the right child's, a stranger's DSP refused.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import schemathesis
from aiokafka import AIOKafkaProducer

from services.gateway.pro_assertion import sign
from tests import sample_files
from tests.integration import test_gateway
from tests.integration.test_gateway import onboard, problem_of
from tests.support import encode, eventually, lab_result, make_matricule

portal = test_gateway.portal  # the same world (workers, sinks) as the gateway's tests, this module's own

PASSWORD = "Clervaux-Abbey-77"  # onboard's


class Front:
    """A portal front-end: one browser's client, every answer checked against the OpenAPI document."""

    def __init__(self, web: httpx.AsyncClient, document: Any) -> None:
        self.web, self.document = web, document

    async def call(self, method: str, url: str, route: str | None = None, status: int = 200,
                   **kw: Any) -> Any:
        reply = await self.web.request(method, url, **kw)
        assert reply.status_code == status, (method, url, reply.text)
        self.document[route or url][method.lower()].validate_response(reply)
        return reply.json() if reply.headers.get("content-type", "").endswith("json") else reply

    async def get(self, url: str, route: str | None = None, **kw: Any) -> Any:
        return await self.call("GET", url, route, **kw)

    async def post(self, url: str, body: Any = None, route: str | None = None, status: int = 200,
                   **kw: Any) -> Any:
        return await self.call("POST", url, route, status, json=body if body is not None else {}, **kw)

    async def command(self, **body: Any) -> dict[str, Any]:
        """An access command, accepted (access learns a new person from the registry on its own time: until it
        has, a command is refused as about an unknown patient, and sent again)."""

        async def accepted() -> dict[str, Any] | None:
            reply = await self.web.post("/v1/me/access/commands", json=body)
            if reply.status_code == 400 and reply.json()["reason"] == "unknown patient":
                return None
            assert reply.status_code == 200, reply.text
            self.document["/v1/me/access/commands"]["post"].validate_response(reply)
            return dict(reply.json())
        found: dict[str, Any] = await eventually(accepted, within_s=60)
        return found

    async def until(self, probe: Callable[[], Awaitable[Any]], within_s: float = 60) -> Any:
        return await eventually(probe, within_s=within_s)


async def _front(web: httpx.AsyncClient) -> Front:
    return Front(web, schemathesis.openapi.from_dict((await web.get("/openapi.json")).json()))


async def _publish(producer: AIOKafkaProducer, topic: str, key: str, body: dict[str, Any]) -> None:
    await producer.send_and_wait(topic, encode(body), key=key.encode())


async def _professional(producer: AIOKafkaProducer, dr: str, given: str, family: str, specialty: str) -> None:
    await _publish(producer, "directory.professionals.v1", dr, {
        "message_id": f"dir-{dr}", "professional_id": dr, "given_name": given, "family_name": family,
        "profession": "Médecin", "specialty": specialty})


async def _pro(portal: dict[str, Any], dr: str) -> Front:
    """A professional's browser, logged in once the directory lists them."""
    web = httpx.AsyncClient(base_url=portal["url"], timeout=30)

    async def logged_in() -> bool:
        reply = await web.post("/v1/pro/login", json={"assertion": sign(portal["idp"], dr, int(time.time()) + 300)})
        return reply.status_code == 200
    await eventually(logged_in, within_s=60)
    return await _front(web)


async def test_a_patient_and_her_professionals_walk_every_screen(portal: dict[str, Any], producer: AIOKafkaProducer,
                                                                 unique: str) -> None:
    serial = int(unique[:3], 16) % 1000
    patient, friend = make_matricule(date(1971, 4, 2), serial), make_matricule(date(1969, 8, 30), serial)
    minor = make_matricule(date(2015, 2, 3), serial)
    lab, gp, er = f"LAB-{unique}", f"GP-{unique}", f"ER-{unique}"
    kremer = f"Kremer-{unique}"  # the directory is the session's: other tests list their own Luc Kremers
    gp_name = f"Luc {kremer}"
    await _professional(producer, gp, "Luc", kremer, "Médecine générale")
    await _professional(producer, er, "Nora", "Schmit", "Médecine d'urgence")
    for who, given, family in ((friend, "Paul", "Reding"), (minor, "Léa", "Reding")):
        await _publish(producer, "registry.persons.v1", who, {
            "message_id": f"reg-{who}", "matricule": who, "given_name": given, "family_name": family,
            "birth_date": f"{who[:4]}-{who[4:6]}-{who[6:8]}",
            "postal_address": {"line1": "1 rue Neuve", "postal_code": "L-1111", "locality": "Luxembourg"}})
    pdf = sample_files.pdf()
    await _publish(producer, "lab.results.v1", f"{lab}:R1", lab_result(
        lab, "R1", f"{unique}-v1", patient_matricule=patient, title="Hémogramme", collected_at="2026-10-05T08:00:00Z",
        reported_at="2026-10-05T12:00:00Z"))
    corrected = lab_result(lab, "R1", f"{unique}-v2", patient_matricule=patient, title="Hémogramme (corrigé)",
                           status="corrected", collected_at="2026-10-05T08:00:00Z", reported_at="2026-10-06T09:00:00Z")
    corrected["observations"][0] = {**corrected["observations"][0], "value": 11.2, "interpretation": "L"}
    await _publish(producer, "lab.results.v1", f"{lab}:R1", corrected)
    await _publish(producer, "lab.results.v1", f"{lab}:R2", lab_result(
        lab, "R2", f"{unique}-r2", patient_matricule=patient, title="Bilan lipidique",
        collected_at="2026-11-10T08:00:00Z", reported_at="2026-11-10T15:00:00Z",
        observations=[{"loinc": "2093-3", "display": "Cholestérol total", "value": 5.1, "unit": "mmol/L",
                       "reference_high": 5.2, "interpretation": "N"}],
        attachment={"content_type": "application/pdf", "data_base64": base64.b64encode(pdf).decode()}))
    web = await onboard(portal, producer, patient, f"journey.{unique}", given_name="Claire", family_name="Hansen")
    me = await _front(web)
    try:
        # latest documents, paged; the search; the timeline
        async def two_documents() -> list[dict[str, Any]] | None:
            items: list[dict[str, Any]] = (await me.get("/v1/me/documents"))["items"]
            return items if len(items) == 2 and items[-1]["version_count"] == 2 else None
        latest = await me.until(two_documents)
        assert [d["title"] for d in latest] == ["Bilan lipidique", "Hémogramme (corrigé)"]  # newest arrival first
        first = await me.get("/v1/me/documents", params={"limit": 1}, route="/v1/me/documents")
        assert len(first["items"]) == 1 and first["next_cursor"]
        second = await me.get("/v1/me/documents", params={"limit": 1, "cursor": first["next_cursor"]})
        assert [d["id"] for d in first["items"] + second["items"]] == [d["id"] for d in latest]
        assert second["next_cursor"] is None
        bad = await web.get("/v1/me/documents", params={"cursor": "not-a-cursor"})
        assert problem_of(bad, 422, "invalid-request")["errors"][0]["loc"] == ["query", "cursor"]
        found = await me.get("/v1/me/documents", params={"q": "cholestérol"})
        assert [d["title"] for d in found["items"]] == ["Bilan lipidique"]
        days = await me.get("/v1/me/timeline", params={"start": "2026-10-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"})
        assert [d["title"] for d in days["items"]] == ["Hémogramme (corrigé)"]

        # a lab result's values, its correction among the versions; the file
        blood, lipids = latest[1]["id"], latest[0]["id"]
        detail = await me.get(f"/v1/me/documents/{blood}", route="/v1/me/documents/{document_id}")
        haemoglobin = detail["observations"][0]
        assert (haemoglobin["loinc"], haemoglobin["display"], haemoglobin["value"], haemoglobin["unit"]) == (
            "718-7", "Hémoglobine", 11.2, "g/dL")
        assert (haemoglobin["reference_low"], haemoglobin["reference_high"], haemoglobin["interpretation"]) == (
            12.0, 16.0, "L")
        assert detail["observations"][2]["value_text"] == "Négative"
        assert [(v["status"], v["current"], v["observations"][0]["value"]) for v in detail["versions"]] == [
            ("final", False, 13.9), ("corrected", True, 11.2)]
        assert all(v["reported_at"].endswith("Z") for v in detail["versions"]) and detail["status"] == "active"
        info = await me.get(f"/v1/me/documents/{lipids}", route="/v1/me/documents/{document_id}")
        assert info["file"] == {"content_type": "application/pdf", "size": len(pdf)}
        served = await me.get(f"/v1/me/documents/{lipids}/file", route="/v1/me/documents/{document_id}/file")
        assert served.content == pdf and served.headers["content-disposition"].startswith("attachment")
        problem_of(await web.get("/v1/me/documents/no-such-document"), 404, "not-found")

        # trusted circle, referring GP, emergency access, consents: named in the access state
        async def listed() -> dict[str, Any] | None:  # a prefix of her family name, in another case
            page: dict[str, Any] = await me.get("/v1/professionals", params={"q": kremer[:-3].lower()})
            return page if page["items"] else None
        found = await me.until(listed)
        assert [(p["professional_id"], p["name"]) for p in found["items"]] == [(gp, gp_name)]
        assert found["next_cursor"] is None
        await me.command(command="add-to-circle", professional_id=gp, period_days=90)
        await me.command(command="set-referring-gp", professional_id=gp)
        await me.command(command="set-emergency-access", refused=True)
        await me.command(command="set-emergency-access", refused=False)
        await me.command(command="record-consent", consent="organ-donation", value=True)
        state = await me.get("/v1/me/access")
        assert [(g["kind"], g["name"], g["specialty"]) for g in state["grants"]] == [
            ("trusted-circle", gp_name, "Médecine générale")]
        assert state["referring_gp"]["name"] == gp_name and state["emergency_refused"] is False
        assert [(c["consent"], c["value"]) for c in state["consents"]] == [("organ-donation", True)]

        # an assistant, as the leaflet adds one: the number, the name shown, then confirm
        person = await me.post("/v1/me/assistants/lookup", {"matricule": friend})
        assert person == {"matricule": friend, "name": "Paul Reding"}
        assert problem_of(await web.post("/v1/me/assistants/lookup", json={"matricule": minor}), 404,
                          "not-found")["reason"] == "no registered adult with this matricule"  # a minor: the same 404
        await me.command(command="add-assistant", assistant=friend)
        state = await me.get("/v1/me/access")
        assert [(a["matricule"], a["name"], a["kind"]) for a in state["assistants"]] == [
            (friend, "Paul Reding", "designated-assistant")]

        # blocking a document: the command's outcome polled
        blocked = await me.post(f"/v1/me/documents/{lipids}/block", route="/v1/me/documents/{document_id}/{action}",
                                status=202)

        async def applied() -> dict[str, Any] | None:
            outcome: dict[str, Any] = await me.get(f"/v1/me/commands/{blocked['command_id']}",
                                                   route="/v1/me/commands/{command_id}")
            return outcome if outcome["status"] != "pending" else None
        outcome = await me.until(applied)
        assert (outcome["status"], outcome["command"], outcome["document_id"]) == ("applied", "block-document", lipids)
        unknown = await me.get("/v1/me/commands/gw-never-sent", route="/v1/me/commands/{command_id}")
        assert unknown["status"] == "pending"
        assert [d["blocked"] for d in (await me.get("/v1/me/documents"))["items"]] == [True, False]  # still mine

        # the presence password, redeemed by a professional outside the circle
        presence = await me.post("/v1/me/presence-password", {})
        assert presence["presence_password"]

        # (c) the referring GP: her patients, her documents paged, a detail with values, the blocked one hidden
        doctor = await _pro(portal, gp)
        try:
            mine = await doctor.get("/v1/pro/patients")
            assert [(p["patient"], p["name"]) for p in mine["items"]] == [(patient, "Claire Hansen")]
            assert mine["professional"]["name"] == gp_name

            async def lipids_hidden() -> list[dict[str, Any]] | None:
                page: dict[str, Any] = await doctor.post("/v1/pro/documents", {"patient": patient, "limit": 1})
                return page["items"] if page["next_cursor"] is None else None
            shown = await doctor.until(lipids_hidden)  # records hides it at once
            assert [d["id"] for d in shown] == [blood]
            detail = await doctor.post("/v1/pro/documents/detail", {"patient": patient, "document_id": blood})
            assert detail["observations"][0]["value"] == 11.2 and len(detail["versions"]) == 2
            async def access_refuses() -> httpx.Response | None:
                reply = await doctor.web.post("/v1/pro/documents/detail", json={"patient": patient,
                                                                                 "document_id": lipids})
                assert reply.status_code in (403, 404), reply.text  # until access knows, records hides it
                return reply if reply.status_code == 403 else None
            refused = await doctor.until(access_refuses)  # access learns the block from records' event
            assert problem_of(refused, 403, "forbidden")["reason"] == "document blocked by the patient"
            refused = await doctor.web.post("/v1/pro/documents/file", json={"patient": patient, "document_id": lipids})
            assert problem_of(refused, 403, "forbidden")["reason"] == "document blocked by the patient"
            found = await doctor.post("/v1/pro/documents", {"patient": patient, "q": "lipidique"})
            assert found["items"] == []
            days = await doctor.post("/v1/pro/documents/timeline", {
                "patient": patient, "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"})
            assert [d["id"] for d in days["items"]] == [blood]
        finally:
            await doctor.web.aclose()

        # (c) an emergency doctor breaks the glass: justified, in the patient's trail and notice
        emergency = await _pro(portal, er)
        why = "Patiente inconsciente aux urgences, allergies à vérifier"
        try:
            problem_of(await emergency.web.post("/v1/pro/documents", json={"patient": patient}), 403, "forbidden")
            await emergency.post("/v1/pro/break-the-glass", {"patient": patient, "justification": why})
            read = await emergency.post("/v1/pro/documents/detail", {"patient": patient, "document_id": blood})
            assert read["title"] == "Hémogramme (corrigé)"
        finally:
            await emergency.web.aclose()
        trail = (await me.get("/v1/me/audit"))["items"]
        glass = next(e for e in trail if e["action"] == "break-the-glass")
        assert (glass["who"]["name"], glass["justification"], glass["allowed"]) == ("Nora Schmit", why, True)
        reads = [e for e in trail if e["action"] == "read" and e["document_id"] == blood]
        assert {e["who"]["name"] for e in reads} == {gp_name, "Nora Schmit"}
        assert {e["document_title"] for e in reads} == {"Hémogramme (corrigé)"}
        denied = next(e for e in trail if e["document_id"] == lipids and not e["allowed"])
        assert denied["document_title"] == "Bilan lipidique" and denied["reason"] == "document blocked by the patient"
        assert all("seq" not in e and "hash" not in e and e["at"].endswith("Z") for e in trail)
        older = await me.get("/v1/me/audit", params={"limit": 2})
        assert len(older["items"]) == 2 and older["next_cursor"]
        after = await me.get("/v1/me/audit", params={"limit": 2, "cursor": older["next_cursor"]})
        assert after["items"][0] == trail[2]

        # notifications: the emergency notice with its justification, unread until read
        async def noticed() -> dict[str, Any] | None:
            page: dict[str, Any] = await me.get("/v1/me/notifications")
            return page if "emergency-access-used" in {n["template"] for n in page["items"]} else None
        inbox = await me.until(noticed)
        notice = next(n for n in inbox["items"] if n["template"] == "emergency-access-used")
        assert why in notice["body"] and notice["read"] is False and inbox["unread"] >= 2
        marked = await me.post("/v1/me/notifications/read", {"ids": [notice["id"]]})
        assert (marked["updated"], marked["unread"]) == (1, inbox["unread"] - 1)
        unread = await me.get("/v1/me/notifications", params={"unread_only": True})
        assert notice["id"] not in [n["id"] for n in unread["items"]]
        seen = {n["id"] for n in (await me.get("/v1/me/notifications"))["items"]}
        assert (await me.post("/v1/me/notifications/read", {"all": True}))["unread"] == 0
        listed = await me.get("/v1/me/notifications")
        # every notice she had is marked; one told since (a first access is told up to 0.25 s later, later on a
        # loaded machine: seen in a fresh-clone run) is unread, and counted
        assert all(n["read"] for n in listed["items"] if n["id"] in seen)
        assert listed["unread"] == sum(not n["read"] for n in listed["items"])

        # the login password ('Mots de passe → Identifiant de connexion')
        changed = await me.post("/v1/account/password", {"password": PASSWORD, "new_password": "Moselle-Valley-2026"})
        assert changed["reason"]
        old = await web.post("/v1/login", json={"matricule": patient, "password": PASSWORD, "channel": "email"})
        assert problem_of(old, 400, "refused")["reason"] == "wrong matricule or password"
        new = await web.post("/v1/login", json={"matricule": patient, "password": "Moselle-Valley-2026",
                                                "channel": "email"})
        assert new.status_code == 200, new.text
    finally:
        await web.aclose()


async def test_a_parent_acts_for_two_children_never_mixed(portal: dict[str, Any], producer: AIOKafkaProducer,
                                                          unique: str) -> None:
    serial = int(unique[:3], 16) % 1000
    parent = make_matricule(date(1983, 5, 17), serial)
    children = {make_matricule(date(2014, 9, 1), serial): ("Tom", "Bilan de Tom"),
                make_matricule(date(2018, 3, 12), serial): ("Zoé", "Bilan de Zoé")}
    stranger = make_matricule(date(1975, 7, 7), serial)
    lab = f"LAB-{unique}"
    for n, (child, (_, title)) in enumerate(children.items()):
        await _publish(producer, "lab.results.v1", f"{lab}:K{n}", lab_result(
            lab, f"K{n}", f"{unique}-k{n}", patient_matricule=child, title=title))
    mom = await onboard(portal, producer, parent, f"mom.{unique}", given_name="Sophie", family_name="Muller")
    kids = [await onboard(portal, producer, child, f"kid{n}.{unique}", given_name=given, family_name="Muller",
                          guardians=[parent]) for n, (child, (given, _)) in enumerate(children.items())]
    parent_front = await _front(mom)
    try:
        for kid in kids:
            front = await _front(kid)
            await front.command(command="add-assistant", assistant=parent)
        assisted = await parent_front.get("/v1/me/assisted")
        assert [(a["patient"], a["name"], a["kind"]) for a in assisted["items"]] == [
            (child, f"{given} Muller", "parent-of-minor") for child, (given, _) in sorted(children.items())]
        for child, (_, title) in children.items():
            async def documents(child: str = child) -> list[dict[str, Any]] | None:
                page: dict[str, Any] = await parent_front.get("/v1/me/documents", headers={"X-DSP-Patient": child})
                return page["items"] or None
            found = await eventually(documents)
            assert [d["title"] for d in found] == [title]  # this child's, never the other's
            detail = await parent_front.get(f"/v1/me/documents/{found[0]['id']}",
                                            route="/v1/me/documents/{document_id}", headers={"X-DSP-Patient": child})
            assert detail["title"] == title
            other = next(c for c in children if c != child)
            leaked = await mom.get(f"/v1/me/documents/{found[0]['id']}", headers={"X-DSP-Patient": other})
            problem_of(leaked, 404, "not-found")  # one child's document is not found in the other's DSP
        assert (await parent_front.get("/v1/me/documents"))["items"] == []  # the parent's own: none
        refused = await mom.get("/v1/me/documents", headers={"X-DSP-Patient": stranger})
        assert problem_of(refused, 403, "forbidden")["reason"] == "not the owner nor a DSP assistant of this record"
    finally:
        await mom.aclose()
        for kid in kids:
            await kid.aclose()
