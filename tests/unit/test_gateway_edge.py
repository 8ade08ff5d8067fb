"""The portal's edge without infrastructure: who the client is (trusted proxies), the body-size limit driven as
ASGI, upload parsing on real files (reportlab, Pillow) and on the polyglots and damaged files an attacker sends."""

from __future__ import annotations

import io
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from pymongo import AsyncMongoClient
from pypdf import PdfReader, PdfWriter
from starlette.requests import Request

from services.gateway import uploads
from services.gateway.app import GatewaySettings
from services.gateway.app import create_app as gateway_app
from services.gateway.limits import SENSITIVE, EdgeLimiter, client_address, parse_proxies, session_key
from services.kit.bodylimit import BodyLimit
from services.records.domain import documents as records_domain
from tests.inprocess import settings_from
from tests.sample_files import image, pdf

ENV = {"DSP_LOG_PSEUDONYM_KEY": secrets.token_hex(24), "DSP_MONGO_URI": "mongodb://127.0.0.1:9/",
       "DSP_KAFKA_BOOTSTRAP": "127.0.0.1:9"}

# ---- who the client is ----------------------------------------------------------------------------------------


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert client_address("198.51.100.7", "203.0.113.1", ()) == "198.51.100.7"
    assert client_address("127.0.0.1", "203.0.113.1, 203.0.113.2", ()) == "127.0.0.1"  # uvicorn's old default
    assert client_address("198.51.100.7", "203.0.113.1", parse_proxies("10.0.0.0/8")) == "198.51.100.7"


def test_behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client() -> None:
    trusted = parse_proxies("10.0.0.5, 10.1.0.0/16")
    # the client forged "1.2.3.4"; the proxy appended what it saw: 203.0.113.9
    assert client_address("10.0.0.5", "1.2.3.4, 203.0.113.9", trusted) == "203.0.113.9"
    assert client_address("10.0.0.5", "1.2.3.4, 203.0.113.9, 10.1.4.4", trusted) == "203.0.113.9"  # two proxies
    assert client_address("10.0.0.5", "10.1.0.1", trusted) == "10.1.0.1"  # only proxies: the farthest one
    assert client_address("10.0.0.5", None, trusted) == "10.0.0.5"
    assert client_address("10.0.0.5", "1.2.3.4, not-an-ip", trusted) == "10.0.0.5"  # garbage: stop at the proxy
    assert client_address("10.0.0.5", " [2001:db8::1] ", trusted) == "2001:db8::/64"


def test_ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert client_address("2001:db8:1:2:aaaa::1", None, ()) == client_address("2001:db8:1:2:ffff::9", None, ())
    assert client_address("2001:db8:1:2::1", None, ()) == "2001:db8:1:2::/64"
    assert client_address("::ffff:198.51.100.7", None, ()) == "198.51.100.7"
    assert client_address(None, "1.2.3.4", ()) == "unknown"


def test_a_bad_trusted_proxy_setting_fails_at_start() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6"):
        parse_proxies("10.0.0.5, proxy.example")
    with pytest.raises(ValidationError):
        settings_from(GatewaySettings, {**ENV, "DSP_GATEWAY_TRUSTED_PROXIES": "10.0.0.5,nope"})
    settings = settings_from(GatewaySettings, {**ENV, "DSP_GATEWAY_TRUSTED_PROXIES": "10.0.0.5, fd00::/8",
                                               "DSP_GATEWAY_SESSION_RATE_LIMIT_PER_MINUTE": "7"})
    assert len(parse_proxies(settings.trusted_proxies)) == 2 and settings.session_rate_limit_per_minute == 7


async def test_the_limiter_reads_every_forwarded_for_header_only_from_a_trusted_peer() -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient("mongodb://127.0.0.1:9/", connect=False)
    headers = [(b"x-forwarded-for", b"1.2.3.4, 203.0.113.9"), (b"x-forwarded-for", b"10.0.0.6")]

    def request(peer: str) -> Request:
        return Request({"type": "http", "method": "POST", "path": "/v1/login", "headers": headers,
                        "client": (peer, 4711), "query_string": b""})

    behind = EdgeLimiter(client["db"]["rate_limits"], 10, 10, parse_proxies("10.0.0.0/24"))
    assert behind.client(request("10.0.0.5")) == "203.0.113.9"
    assert behind.client(request("198.51.100.7")) == "198.51.100.7"
    exposed = EdgeLimiter(client["db"]["rate_limits"], 10, 10)
    assert exposed.client(request("127.0.0.1")) == "127.0.0.1"
    await client.close()


def test_sessions_are_stored_as_hashes() -> None:
    token = secrets.token_urlsafe(32)
    assert token not in session_key(token) and len(session_key(token)) == 32
    assert session_key(token) != session_key(token + "x")
    assert {"/v1/login", "/v1/login/verify", "/v1/pro/login"} <= SENSITIVE


# ---- the body-size limit, as ASGI ---------------------------------------------------------------------------


class Echo:
    """An app that reads the whole body and answers its size (and remembers whether it was called)."""

    def __init__(self) -> None:
        self.called, self.read = False, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        more = True
        while more:
            message = await receive()
            self.read += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(self.read).encode()})


async def drive(app: Any, path: str, chunks: list[bytes], content_length: int | None = None,
                method: str = "POST", events: list[str] | None = None,
                headers: tuple[tuple[bytes, bytes], ...] = ()) -> tuple[int, bytes, int]:
    """(status, body, chunks the client got to hand over) for one request through `app`; `events` records the
    order of reads ("read") and answers ("413 sent" once the refusal's body is out)."""
    all_headers = [(b"content-type", b"application/json"), *headers]
    if content_length is not None:
        all_headers.append((b"content-length", str(content_length).encode()))
    scope = {"type": "http", "method": method, "path": path, "headers": all_headers, "query_string": b""}
    pending, handed, log = list(chunks), 0, events if events is not None else []

    async def receive() -> dict[str, Any]:
        nonlocal handed
        if not pending:
            return {"type": "http.disconnect"}
        handed += 1
        log.append("read")
        return {"type": "http.request", "body": pending.pop(0), "more_body": bool(pending)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            log.append("answered")

    await app(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, sent
    return starts[0]["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"), handed


async def test_a_declared_length_above_the_limit_is_refused_without_calling_the_app() -> None:
    inner, events = Echo(), []
    status, body, handed = await drive(BodyLimit(inner), "/v1/login", [b"x" * 1024 * 1024] * 96,
                                       content_length=96 * 1024 * 1024, events=events)
    assert (status, inner.called) == (413, False)
    assert b"request body larger than 65536 bytes" in body
    # answered first; then 8 MiB at most are read and dropped so that closing does not reset the 413 away
    assert events[0] == "answered" and handed == 8
    _, _, handed = await drive(BodyLimit(Echo()), "/v1/login", [b"x"] * 3, content_length=10**9,
                               headers=((b"expect", b"100-continue"),))
    assert handed == 0  # a client waiting for "100 Continue" is not invited to send its body


async def test_a_streamed_body_is_refused_as_soon_as_it_grows_past_the_limit() -> None:
    inner = Echo()
    chunks = [b"x" * 16 * 1024] * 1000  # 16 MB offered, chunked (no Content-Length)
    status, body, handed = await drive(BodyLimit(inner, linger_bytes=0), "/v1/login", chunks)
    assert status == 413 and b"larger than 65536" in body
    assert handed == 5  # 80 KiB read, then stopped: the rest was never asked for
    assert inner.read == 4 * 16 * 1024  # the app saw only what fitted


async def test_a_body_within_its_limit_passes_and_limits_are_per_path_prefix_and_method() -> None:
    def limited() -> BodyLimit:
        return BodyLimit(Echo(), rules=[("POST", "/v1/me/documents", 8 * 1024 * 1024)])

    assert (await drive(limited(), "/v1/login", [b"x" * 1000, b"y" * 1000]))[:2] == (200, b"2000")
    big = [b"x" * 1024 * 1024] * 7
    assert (await drive(limited(), "/v1/me/documents", big, content_length=7 * 1024 * 1024))[:2] == (
        200, b"7340032")
    assert (await drive(limited(), "/v1/me/documents", big))[:2] == (200, b"7340032")  # chunked, same limit
    assert (await drive(limited(), "/v1/me/documents", [b""], content_length=9 * 1024 * 1024))[0] == 413
    assert (await drive(limited(), "/v1/me/documents", big, method="PUT"))[0] == 413  # the rule is for POST
    assert (await drive(limited(), "/v1/me/timeline", [b"x" * 70_000]))[0] == 413


async def test_lifespan_and_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await BodyLimit(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


class Body(BaseModel):
    text: str


@pytest.fixture
async def framework() -> AsyncIterator[httpx.AsyncClient]:
    """A FastAPI app behind the limit: FastAPI turns a failing body read into its own 400, which must not win."""
    app = FastAPI()
    parsed: list[int] = []

    @app.post("/echo")
    async def echo(body: Body) -> dict[str, int]:
        parsed.append(len(body.text))
        return {"length": len(body.text)}

    app.add_middleware(BodyLimit, default=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://edge") as client:
        yield client
    assert all(n <= 1024 for n in parsed)


async def test_fastapi_behind_the_limit_answers_413_for_declared_and_streamed_bodies(
        framework: httpx.AsyncClient) -> None:
    assert (await framework.post("/echo", json={"text": "hello"})).json() == {"length": 5}
    declared = await framework.post("/echo", json={"text": "x" * 5000})
    assert declared.status_code == 413 and declared.json()["reason"] == "request body larger than 1024 bytes"
    assert declared.headers["content-type"] == "application/problem+json"

    async def stream() -> AsyncIterator[bytes]:
        yield b'{"text": "'
        for _ in range(100):
            yield b"x" * 512
        yield b'"}'

    streamed = await framework.post("/echo", content=stream(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "larger than 1024" in streamed.text


async def test_the_gateway_refuses_large_bodies_before_parsing_with_its_security_headers() -> None:
    app = gateway_app(settings_from(GatewaySettings, ENV))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        big = await client.post("/v1/password/forgot", content=b"{" + b" " * 70_000 + b"}")  # not rate-limited
        assert big.status_code == 413 and big.headers["x-frame-options"] == "DENY"
        assert big.headers["content-type"] == "application/problem+json"
        assert big.json() == {"type": "urn:dsp-mesh:problem:body-too-large", "title": "Request body too large",
                              "status": 413, "detail": "request body larger than 65536 bytes",
                              "reason": "request body larger than 65536 bytes"}
        upload = await client.post("/v1/me/documents", content=b"x" * (9 * 1024 * 1024),
                                   headers={"content-type": "application/json"})
        assert upload.status_code == 413 and "8388608" in upload.text


async def test_the_console_refuses_large_bodies() -> None:
    from services.console.app import ConsoleSettings
    from services.console.app import create_app as console_app

    app = console_app(settings_from(ConsoleSettings, ENV))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        reply = await client.post("/api/dlq/replay", content=b"x" * 100_000,
                                  headers={"content-type": "application/json"})
        assert reply.status_code == 413


# ---- uploads, parsed whole ----------------------------------------------------------------------------------


def refused(content_type: str, data: bytes) -> str:
    with pytest.raises(uploads.Refused) as caught:
        uploads.check(content_type, data)
    return caught.value.reason


def test_real_pdf_png_and_jpeg_files_are_accepted() -> None:
    uploads.check("application/pdf", pdf())
    uploads.check("application/pdf", pdf(pages=3))
    uploads.check("image/png", image("PNG"))
    uploads.check("image/jpeg", image("JPEG", (640, 480)))


def test_the_real_type_must_be_the_declared_one() -> None:
    assert refused("image/png", image("JPEG")) == "the file is image/jpeg, not the declared image/png"
    assert refused("application/pdf", image("PNG")) == "the file is image/png, not the declared application/pdf"
    assert refused("image/jpeg", pdf()) == "the file is application/pdf, not the declared image/jpeg"
    assert "not a PDF, JPEG or PNG" in refused("image/png", b"GIF89a....")


def test_a_pdf_header_followed_by_html_is_refused() -> None:
    polyglot = b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n%%EOF\n"
    assert refused("application/pdf", polyglot) == "the file contains HTML or SVG markup"
    quiet = b"%PDF-1.4\n%" + b"A" * 2000 + b"\n<script>alert(1)</script>\n%%EOF\n"  # markup past the first KiB
    assert "the PDF cannot be read" in refused("application/pdf", quiet)
    # a real PDF behind an HTML page (pypdf would recover it by guessing the structure): refused
    assert refused("application/pdf", b"%PDF-1.4\n<html><script>alert(1)</script></html>\n" + pdf()[9:]) == (
        "the file contains HTML or SVG markup")
    late = pdf()[:9] + b"%" + b"x" * 2000 + b"\n<html><script>alert(1)</script></html>\n" + pdf()[9:]
    assert refused("application/pdf", late).startswith(("the PDF cannot be read", "the PDF is damaged"))


def test_pdfs_that_parse_only_by_guessing_or_have_no_page_are_refused() -> None:
    good = pdf()
    shifted = good[:9] + b"%" + b"x" * 200 + b"\n" + good[9:]  # every offset in the xref is now wrong
    assert refused("application/pdf", shifted) == "the PDF is damaged: incorrect startxref pointer(1)"
    assert "end-of-file marker" in refused("application/pdf", good[: len(good) // 2])  # truncated
    assert "end-of-file marker" in refused("application/pdf", good + b"<html>tail</html>")  # something appended
    assert refused("application/pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").startswith(
        "the PDF cannot be read")  # today's test 'PDF' had no structure at all
    empty = io.BytesIO()
    PdfWriter().write(empty)
    assert refused("application/pdf", empty.getvalue()) == "the PDF has no page"


def test_an_encrypted_pdf_is_accepted_only_if_it_opens_without_a_password() -> None:
    def encrypted(user_password: str) -> bytes:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf())))
        writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    uploads.check("application/pdf", encrypted(""))
    assert refused("application/pdf", encrypted("patient-secret")) == (
        "the PDF is encrypted with a password; upload it without one")


def test_a_png_header_followed_by_svg_and_damaged_images_are_refused() -> None:
    svg = b"\x89PNG\r\n\x1a\n<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>IEND\xaeB`\x82"
    assert refused("image/png", svg) == "the file contains HTML or SVG markup"
    padded = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000 + b"<svg onload='alert(1)'/>IEND\xaeB`\x82"
    assert "not a readable PNG image" in refused("image/png", padded)
    png, jpeg = image("PNG", (300, 200), noisy=True), image("JPEG", (300, 200), noisy=True)
    assert "IEND" in refused("image/png", png[:-40])  # truncated
    assert "IEND" in refused("image/png", png + b"<html><script>alert(1)</script></html>")  # appended page
    assert "end-of-image" in refused("image/jpeg", jpeg[: len(jpeg) // 2])
    corrupt = png[:60] + bytes(b ^ 0xFF for b in png[60:120]) + png[120:]  # a damaged chunk (CRC no longer matches)
    assert "PNG image" in refused("image/png", corrupt)
    assert "JPEG image" in refused("image/jpeg", jpeg[:400] + b"\xff\xd9")  # headers cut: nothing to decode


def test_size_limits() -> None:
    assert uploads.MAX_BYTES == records_domain.MAX_ATTACHMENT_BYTES  # what records would refuse is refused here
    too_big = pdf() + b" " * uploads.MAX_BYTES
    with pytest.raises(uploads.Refused) as caught:
        uploads.check("application/pdf", too_big)
    assert caught.value.status == 413 and f"at most {uploads.MAX_BYTES} bytes" in caught.value.reason
    assert "pixels" in refused("image/png", image("PNG", (8000, 6000)))  # 48 megapixels


def test_the_upload_id_is_the_one_records_gives() -> None:
    for command_id in ("gw-1", f"gw-{secrets.token_hex(8)}"):
        assert uploads.upload_id(command_id) == records_domain.upload_id(command_id)


def test_files_are_served_as_attachments_with_a_safe_name() -> None:
    assert uploads.download_headers("3f2a-77", "application/pdf") == {
        "Content-Disposition": 'attachment; filename="3f2a-77.pdf"', "X-Content-Type-Options": "nosniff"}
    name = uploads.download_headers('a"; filename=evil.html\r\nX: é', "image/png")["Content-Disposition"]
    assert name == 'attachment; filename="a___filename_evil.html__X___.png"'
    assert uploads.download_headers("..", "image/jpeg")["Content-Disposition"] == 'attachment; filename="document.jpg"'


async def test_the_api_page_is_served_from_the_gateway_and_can_be_turned_off() -> None:
    app = gateway_app(settings_from(GatewaySettings, ENV))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        page = await client.get("/docs")
        assert page.status_code == 200 and "script-src 'self';" in page.headers["content-security-policy"]
        assert "<script>" not in page.text and "cdn" not in page.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "docs-init.js", "favicon.png"):
            assert (await client.get(f"/docs/assets/{asset}")).status_code == 200, asset
        assert (await client.get("/docs/assets/..%2Fapi_docs.py")).status_code == 404
        assert (await client.get("/redoc")).status_code == 404
    off = gateway_app(settings_from(GatewaySettings, {**ENV, "DSP_GATEWAY_API_DOCS": "false"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=off), base_url="http://127.0.0.1") as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 200



def _matched_in_order(routes: list[Any]) -> list[str]:
    """The paths the app tries, in order (FastAPI keeps an included router as one node holding its routes)."""
    paths: list[str] = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            paths += [included.prefix + p for p in _matched_in_order(included.routes)]
        else:
            paths.append(getattr(route, "path", ""))
    return paths


def test_the_fhir_door_is_matched_before_the_portal_routes_and_shadows_none() -> None:
    """A FHIR search is routed without trying the portal API's patterns first (12 % of the gateway's CPU per search
    in the profile, docs/fhir.md), and moving it first changes no answer: no other route lives under /fhir/r4."""
    paths = _matched_in_order(gateway_app(settings_from(GatewaySettings, ENV)).routes)
    assert paths[0] == "/openapi.json"  # FastAPI's own, one exact comparison
    fhir = [n for n, path in enumerate(paths) if path.startswith("/fhir/r4")]
    assert fhir == list(range(1, len(fhir) + 1)) and len(fhir) > 10
    assert not any(path.startswith("/fhir") for path in paths[len(fhir) + 1:])
