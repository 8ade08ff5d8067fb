"""The console without servers: payload masking, the operator CLI (on an in-memory store), the Host allow-list,
the security headers and the refusals that need no database (no session, no CSRF token, another Host)."""

from __future__ import annotations

import io
import json
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn, verhoeff

from services.console import cli
from services.console.app import ConsoleSettings, create_app
from services.console.domain.masking import MASK, mask_digits, mask_key, preview
from services.console.domain.operators import Operator, OperatorExists
from services.console.domain.slowdown import MAX_DELAY, delay_after
from services.console.web.guard import allowed_hosts
from services.console.web.pages import plotly_css, plotly_map_style
from tests.inprocess import settings_from
from tests.support import lab_result

MATRICULE = "1893120105732"
HIV = {"loinc": "7917-8", "display": "HIV 1+2 Ab", "value_text": "Positif", "interpretation": "A"}


def masked_json(value: Any) -> Any:
    shown = preview(json.dumps(value).encode())
    assert shown["masked"] and shown["json"]
    return json.loads(shown["text"])


# --- masking ---------------------------------------------------------------------------------------------------

def test_a_lab_result_keeps_what_it_is_about_and_hides_who_and_what_came_out() -> None:
    result = lab_result("LAB1", observations=[*lab_result("LAB1")["observations"], HIV])
    shown = masked_json(result)
    assert shown["patient_matricule"] == MASK and shown["laboratory_id"] == "LAB1" and shown["status"] == "final"
    assert shown["collected_at"] == result["collected_at"] and shown["title"] == result["title"]
    hb, _, culture, hiv = shown["observations"]
    assert hb == {"loinc": "718-7", "display": "Hémoglobine", "value": MASK, "unit": "g/dL", "reference_low": MASK,
                  "reference_high": MASK, "interpretation": MASK}
    assert culture["value_text"] == MASK and hiv == {**HIV, "value_text": MASK, "interpretation": MASK}
    text = preview(json.dumps(result).encode())["text"]
    assert MATRICULE not in text and "13.9" not in text and "Positif" not in text and "Négative" not in text


def test_matricules_are_masked_wherever_they_appear_even_mistyped() -> None:
    shown = masked_json({"report_id": f"R-{MATRICULE}", "title": f"pour 189312010573 et {MATRICULE}7",
                         MATRICULE: "x", "message_id": "m-20261120"})
    assert shown["report_id"] == "R-" + "•" * 13 and shown["title"] == "pour " + "•" * 12 + " et " + "•" * 14
    assert "•" * 13 in shown and shown["message_id"] == "m-20261120"  # an 8-digit date stays readable
    assert mask_key(MATRICULE.encode()) == "•" * 13 and mask_key(b"LAB1:R1") == "LAB1:R1"
    assert mask_key(MATRICULE.encode(), masked=False) == MATRICULE


def test_people_codes_and_fhir_values_are_masked_whole() -> None:
    person = {"matricule": MATRICULE, "given_name": "Marie", "family_name": "Weber", "birth_date": "1893-12-01",
              "email": "marie@example.lu", "mobile": "+352621123456", "postal_address": {"locality": "Esch"},
              "command": "activate", "code": "K7Q-2MX", "password": "hunter2-hunter2"}
    shown = masked_json(person)
    assert shown["command"] == "activate"
    assert all(v == MASK for k, v in shown.items() if k != "command")
    bundle = {"resourceType": "Bundle", "entry": [{"resource": {
        "resourceType": "Observation", "valueCodeableConcept": {"coding": [{"display": "Positive"}]},
        "valueQuantity": {"value": 13.9, "unit": "g/dL"}, "subject": {"reference": f"Patient/{MATRICULE}"},
        "text": {"div": "<div>Positive</div>"}, "interpretation": [{"text": "A"}]}}]}
    resource = masked_json(bundle)["entry"][0]["resource"]
    assert resource["resourceType"] == "Observation" and resource["subject"]["reference"] == "Patient/" + "•" * 13
    assert all(resource[k] == MASK for k in ("valueCodeableConcept", "valueQuantity", "text", "interpretation"))


def test_a_payload_that_is_not_json_is_masked_by_a_lenient_scan() -> None:
    broken = json.dumps(lab_result("LAB1", observations=[HIV]))[:-30].encode()  # cut: no longer JSON
    shown = preview(broken)
    assert not shown["json"] and shown["masked"]
    assert '"laboratory_id": "LAB1"' in shown["text"] and '"display": "HIV 1+2 Ab"' in shown["text"]
    assert MATRICULE not in shown["text"] and "Positif" not in shown["text"]
    nested = b'{"valueCodeableConcept": {"coding": [{"display": "Positive"}]}, "status": "final", '
    assert "Positive" not in preview(nested)["text"] and '"status": "final"' in preview(nested)["text"]
    assert preview(b"{not json " + MATRICULE.encode())["text"] == "{••• ••• •••"


def test_unmasked_shows_everything_but_attachment_bytes_and_is_bounded() -> None:
    result = lab_result("LAB1", observations=[HIV], attachment={"content_type": "application/pdf",
                                                                 "data_base64": "QUJD" * 50_000})
    shown = preview(json.dumps(result).encode(), masked=False)
    body = json.loads(shown["text"]) if not shown["truncated"] else None
    assert not shown["masked"] and MATRICULE in shown["text"] and "Positif" in shown["text"]
    assert body is not None and body["attachment"]["data_base64"] == "‹200000 base64 characters›"
    huge = preview(json.dumps({"title": "x" * 20_000}).encode())
    assert huge["truncated"] and len(huge["text"]) <= 4000
    assert preview(None)["bytes"] == 0 and preview(b"\xff\xfe\x00")["json"] is False


SEPARATED = ("1982 0101 123 80", "198201.0112380", "R-19820101-12380-x", "1982-01-01 123 80", "19820101 - 12380")


@pytest.mark.parametrize("written", SEPARATED)
def test_a_matricule_written_with_separators_is_masked(written: str) -> None:
    """Issue 24: digit runs of nine or more were masked, `1982 0101 123 80` was not."""
    masked = mask_digits(f"Observation/{written}")
    assert not re.search("[0-9]", masked) and masked.count("•") == 13
    assert masked == "Observation/" + re.sub("[0-9]", "•", written)  # the separators stay: the shape is no secret
    shown = masked_json({"report_id": written, "title": f"pour {written}", "message_id": written})
    assert not re.search("[0-9]", json.dumps(shown, ensure_ascii=False))
    assert mask_key(f"LAB1:{written}".encode()) == "LAB1:" + re.sub("[0-9]", "•", written)


@pytest.mark.parametrize("text", [
    "2026-11-20T08:05:00+01:00", "13.5 g/dL, then 6.1", "m-20261120 1430", "offset 1234 5678", "1982 0101 123 81",
    "R-2026-11-20-0042", "collected 2026-11-20 08:05 reported 2026-11-20 14:30"])
def test_dates_values_and_offsets_with_separators_stay_readable(text: str) -> None:
    assert mask_digits(text) == text


def test_every_operator_reads_a_dead_letters_reason_masked() -> None:
    """A viewer reads the reason of every dead letter, including those written before reasons were redacted."""
    from aiokafka import ConsumerRecord

    from services.console.service.deadletters import payload

    old = ConsumerRecord(topic="lab.results.fhir.v1.dlq", partition=0, offset=3, timestamp=0, timestamp_type=0,
                         key=b"LAB1:R1", value=b"{}", checksum=None, serialized_key_size=0, serialized_value_size=0,
                         headers=[("dlq-reason", b"reference 'Observation/198201.0112380' does not resolve to a "
                                                 b"Observation in the bundle; also 1982010112380")])
    for shown in (payload(old), payload(old, masked=False)):
        assert shown["reason"] == ("reference 'Observation/••••••.•••••••' does not resolve to a Observation in the "
                                   "bundle; also •••••••••••••")


def _separated(draw: Any, digits: str) -> str:
    out = digits[0]
    for d in digits[1:]:
        out += draw(st.sampled_from(["", "", "", " ", ".", "-", "\u00a0", " - ", ". "])) + d
    return out


@st.composite
def written_matricules(draw: Any) -> str:
    born = draw(st.dates(min_value=date(1850, 1, 1), max_value=date(2099, 12, 31)))
    base = f"{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    return _separated(draw, base + luhn.calc_check_digit(base) + verhoeff.calc_check_digit(base))


@settings(max_examples=300, deadline=None)
@given(written=written_matricules(), before=st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=20),
       after=st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=20))
def test_any_matricule_with_separators_inserted_is_masked(written: str, before: str, after: str) -> None:
    masked = mask_digits(before + written + after)
    assert not re.search("[0-9]", masked), (written, masked)
    assert masked.count("•") - (before + after).count("•") == 13

# --- operators CLI ---------------------------------------------------------------------------------------------

class MemoryStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def add(self, name: str, role: str, password: str, *, replace: bool = False) -> str:
        if name in self.docs and not replace:
            raise OperatorExists(f"operator {name} exists; --replace changes its password and role")
        outcome = "replaced" if name in self.docs else "created"
        self.docs[name] = {"name": name, "role": role, "password": password, "created_at": datetime.now(UTC)}
        return outcome

    async def remove(self, name: str) -> bool:
        return self.docs.pop(name, None) is not None

    async def all(self) -> list[dict[str, Any]]:
        return [{k: v for k, v in d.items() if k != "password"} for d in self.docs.values()]

    async def get(self, name: str) -> dict[str, Any] | None:
        return self.docs.get(name)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_cli(store: MemoryStore, *argv: str, stdin: io.StringIO | None = None,
            answers: tuple[str, ...] = ()) -> tuple[int, str]:
    out, typed = io.StringIO(), iter(answers)
    code = cli.main(list(argv), store=store, out=out, stdin=stdin or io.StringIO(""), ask=lambda _: next(typed))
    return code, out.getvalue()


def test_add_operator_reads_the_password_from_a_file_stdin_or_the_terminal(tmp_path: Path) -> None:
    store = MemoryStore()
    secret = tmp_path / "pw"
    secret.write_text("correct-horse-battery\nignored second line\n")
    assert run_cli(store, "add-operator", "ana", "--role", "replayer", "--password-file", str(secret)) == (
        0, "operator ana created with role replayer\n")
    assert store.docs["ana"]["password"] == "correct-horse-battery"
    assert run_cli(store, "add-operator", "ben", "--role", "viewer", stdin=io.StringIO("piped-password-1\n"))[0] == 0
    assert store.docs["ben"]["password"] == "piped-password-1"
    code, _ = run_cli(store, "add-operator", "cy", "--role", "viewer", stdin=Terminal(),
                      answers=("typed-password-1", "typed-password-1"))
    assert code == 0 and store.docs["cy"]["password"] == "typed-password-1"


def test_add_operator_refuses_bad_input_without_echoing_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    store = MemoryStore()
    assert run_cli(store, "add-operator", "cy", "--role", "viewer", stdin=Terminal(),
                   answers=("typed-password-1", "typed-password-2"))[0] == 2
    assert run_cli(store, "add-operator", "ana", "--role", "viewer", stdin=io.StringIO("short\n"))[0] == 2
    named = run_cli(store, "add-operator", "Ana Smith", "--role", "viewer", stdin=io.StringIO("long-enough-pw\n"))
    assert named[0] == 2
    with pytest.raises(SystemExit):
        run_cli(store, "add-operator", "ana", "--role", "admin", stdin=io.StringIO("long-enough-pw\n"))
    err = capsys.readouterr().err
    assert "differ" in err and "12" in err and "lowercase" in err
    assert "typed-password" not in err and "short" not in err and store.docs == {}


def test_an_existing_operator_is_replaced_only_when_asked() -> None:
    store = MemoryStore()
    assert run_cli(store, "add-operator", "ana", "--role", "viewer", stdin=io.StringIO("first-password-1\n"))[0] == 0
    assert run_cli(store, "add-operator", "ana", "--role", "replayer", stdin=io.StringIO("other-password-1\n"))[0] == 1
    assert run_cli(store, "add-operator", "ana", "--role", "replayer", "--if-missing") == (
        0, "operator ana exists; left as it is\n")
    assert store.docs["ana"]["role"] == "viewer"
    code, out = run_cli(store, "add-operator", "ana", "--role", "replayer", "--replace",
                        stdin=io.StringIO("other-password-1\n"))
    assert code == 0 and "replaced" in out and store.docs["ana"]["role"] == "replayer"


def test_list_and_remove_operators() -> None:
    store = MemoryStore()
    assert "no operator yet" in run_cli(store, "list-operators")[1]
    run_cli(store, "add-operator", "ana", "--role", "viewer", stdin=io.StringIO("first-password-1\n"))
    code, out = run_cli(store, "list-operators")
    assert code == 0 and out.startswith("ana ") and "viewer" in out and "first-password" not in out
    assert run_cli(store, "remove-operator", "ana") == (0, "operator ana removed; their sessions ended\n")
    assert run_cli(store, "remove-operator", "ana") == (1, "no operator ana\n")


# --- roles and the login slow-down -----------------------------------------------------------------------------

def test_roles_and_delays() -> None:
    assert Operator("a", "replayer").may("viewer") and Operator("a", "replayer").may("replayer")
    assert Operator("v", "viewer").may("viewer") and not Operator("v", "viewer").may("replayer")
    assert [delay_after(n).total_seconds() for n in range(1, 10)] == [0, 0, 2, 4, 8, 16, 32, 60, 60]
    assert delay_after(10_000) == MAX_DELAY == timedelta(seconds=60)  # slowed down, never locked


# --- the outer door --------------------------------------------------------------------------------------------

def test_the_host_allow_list_adds_the_console_port_to_bare_hosts() -> None:
    assert allowed_hosts("127.0.0.1,localhost", 8105) == {"127.0.0.1", "127.0.0.1:8105", "localhost",
                                                          "localhost:8105"}
    assert allowed_hosts(" Console.Example.LU , [::1]:8105,[::1]", 8080) == {
        "console.example.lu", "console.example.lu:8080", "[::1]:8105", "[::1]", "[::1]:8080"}
    for bad in ("", " , ", "::1", "host:port", "[::1"):
        with pytest.raises(ValueError, match="host"):
            allowed_hosts(bad, 8105)


def test_a_bad_allowed_host_stops_the_start_with_the_variable_name(capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from services.kit.settings import load

    monkeypatch.setenv("DSP_LOG_PSEUDONYM_KEY", secrets.token_hex(24))
    monkeypatch.setenv("DSP_CONSOLE_ALLOWED_HOSTS", "::1")
    with pytest.raises(SystemExit):
        load(ConsoleSettings)
    assert "DSP_CONSOLE_ALLOWED_HOSTS" in capsys.readouterr().err


def console_client(**env: str) -> httpx.AsyncClient:
    """The console app in process; its lifespan never runs, so neither Kafka nor MongoDB is reached."""
    settings = settings_from(ConsoleSettings, {"DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24), **env})
    return httpx.AsyncClient(transport=httpx.ASGITransport(create_app(settings)), base_url="http://127.0.0.1:8105")


async def test_every_answer_has_the_security_headers_and_another_host_gets_400() -> None:
    async with console_client() as client:
        for path, status in (("/login", 200), ("/api/dlq?topic=lab.results.v1.dlq", 401), ("/nothing", 404),
                             ("/static/console.js", 200)):
            answer = await client.get(path)
            assert answer.status_code == status, path
            csp = answer.headers["content-security-policy"]
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "default-src 'none'" in csp
            assert answer.headers["x-frame-options"] == "DENY" and answer.headers["x-content-type-options"] == \
                "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer" and "strict-transport-security" in answer.headers
            assert answer.headers["cache-control"] == ("no-cache" if path.startswith("/static/") else "no-store")
        for host in ("evil.example", "127.0.0.1:9999", "localhost.evil.example:8105", ""):
            refused = await client.get("/login", headers={"host": host})
            assert refused.status_code == 400 and refused.json() == {"detail": "unknown host"}, host
            assert refused.headers["x-frame-options"] == "DENY"
        assert (await client.get("/login", headers={"host": "localhost:8105"})).status_code == 200
    async with console_client(DSP_CONSOLE_ALLOWED_HOSTS="console.example.lu",
                              DSP_CONSOLE_SECURE_COOKIES="false") as other:
        answer = await other.get("/login", headers={"host": "console.example.lu"})
        assert answer.status_code == 200 and "strict-transport-security" not in answer.headers
        assert (await other.get("/login")).status_code == 400


async def test_cookies_are_httponly_strict_and_secure_by_default() -> None:
    async with console_client() as client:
        cookie = (await client.get("/login")).headers["set-cookie"]
    assert cookie.startswith("__Host-dsp-console-login=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/" in cookie
    async with console_client(DSP_CONSOLE_SECURE_COOKIES="false") as client:
        plain = (await client.get("/login")).headers["set-cookie"]
    assert plain.startswith("dsp-console-login=") and "Secure" not in plain


async def test_refusals_that_need_no_database() -> None:
    async with console_client() as client:
        assert (await client.get("/")).headers["location"] == "/login"
        for path in ("/api/snapshot", "/api/stream", "/api/me"):
            assert (await client.get(path)).status_code == 401
        replay = await client.post("/api/dlq/replay", json={"topic": "x", "partition": 0, "offset": 0})
        assert replay.status_code == 401
        login = await client.post("/login", data={"name": "ana", "password": "x", "csrf": "forged"})
        assert login.status_code == 403 and "expired" in login.text  # no login cookie: a form posted from elsewhere
        as_json = await client.post("/login", content=b"{}", headers={"content-type": "application/json"})
        assert as_json.status_code == 415
        assert (await client.post("/logout", data={"csrf": "x"})).status_code == 303  # nobody to end


def test_plotly_styles_are_served_as_files_from_the_wheel() -> None:
    css = plotly_css()
    assert ".js-plotly-plot .plotly .main-svg" in css and css.count("{") > 30 and "X," not in css
    marker, map_css = plotly_map_style()
    assert len(marker) == 64 and ".maplibregl-map" in map_css
    page = (Path(__file__).parents[2] / "services/console/static/index.html").read_text()
    assert 'id="plotly.js-style-global" class="no-inline-styles"' in page and 'id="{{plotly_map_style_id}}"' in page
