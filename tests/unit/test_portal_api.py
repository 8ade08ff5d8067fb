"""The web portal calls the portal API in-process as the browser would: the TCP peer and its `X-Forwarded-For`
are handed on, so behind a trusted reverse proxy the API's per-client limits and activation's delay after failed
logins count each person, not the proxy (issue 24: one shared address would let a stranger's failures delay the
owner again)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response

from services.gateway.limits import client_address, parse_proxies
from services.gateway.web.api import Api

PROXY = parse_proxies("10.0.0.5")


def page_request(app: FastAPI, peer: str, forwarded: list[bytes]) -> Request:
    """A browser's page request as the portal gets it (through the proxy, which appended what it saw)."""
    headers = [(b"host", b"portal.example"), *((b"x-forwarded-for", value) for value in forwarded)]
    return Request({"type": "http", "method": "GET", "path": "/login", "headers": headers, "client": (peer, 4711),
                    "query_string": b"", "app": app})


def api() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/seen")
    async def seen(request: Request) -> dict[str, Any]:  # what the API's limiter reads
        peer = request.client.host if request.client else None
        forwarded = ",".join(request.headers.getlist("x-forwarded-for")) or None
        return {"peer": peer, "forwarded": forwarded, "client": client_address(peer, forwarded, PROXY)}

    return app


async def test_each_person_behind_the_proxy_is_their_own_client() -> None:
    app = api()
    owner = await Api(page_request(app, "10.0.0.5", [b"203.0.113.9"])).call("GET", "/v1/seen")
    stranger = await Api(page_request(app, "10.0.0.5", [b"198.51.100.7, 203.0.113.1", b"198.51.100.66"])).call(
        "GET", "/v1/seen")
    assert owner == {"peer": "10.0.0.5", "forwarded": "203.0.113.9", "client": "203.0.113.9"}
    assert stranger["client"] == "198.51.100.66"  # the hop the proxy appended, as for a direct API call


async def test_without_a_proxy_the_peer_is_the_client_whatever_is_forwarded() -> None:
    app = api()
    direct = await Api(page_request(app, "198.51.100.7", [b"203.0.113.9"])).call("GET", "/v1/seen")
    assert direct["client"] == "198.51.100.7"  # a forged header from an untrusted peer changes nothing
    plain = await Api(page_request(app, "198.51.100.7", [])).call("GET", "/v1/seen")
    assert plain == {"peer": "198.51.100.7", "forwarded": None, "client": "198.51.100.7"}


async def test_a_call_reaches_the_api_as_a_browser_request_would() -> None:
    """In-process, without an HTTP client: the query (a list repeated, a bool as true/false, text encoded), the
    JSON body, the page's Host and cookies, and the answer's status, headers and body read back."""
    app = FastAPI()

    @app.api_route("/v1/echo/{name}", methods=["GET", "POST"])
    async def echo(name: str, request: Request, response: Response) -> dict[str, Any]:
        response.set_cookie("dsp_flow", "next-step")
        return {"name": name, "method": request.method, "query": list(request.query_params.multi_items()),
                "json": await request.json() if request.method == "POST" else None,
                "host": request.headers["host"], "cookie": request.headers.get("cookie"),
                "content_type": request.headers.get("content-type")}

    page = Request({"type": "http", "method": "GET", "path": "/documents", "client": ("10.0.0.5", 4711),
                    "query_string": b"", "app": app,
                    "headers": [(b"host", b"portal.example"), (b"cookie", b"dsp_session=s1; other=x")]})
    api = Api(page)
    got = await api.get("/v1/echo/r%C3%A9sultat", loinc=["718-7", "2345-7"], q="Hémogramme du 5", all=True)
    assert got["name"] == "résultat" and got["method"] == "GET"
    assert got["query"] == [["loinc", "718-7"], ["loinc", "2345-7"], ["q", "Hémogramme du 5"], ["all", "true"]]
    assert (got["host"], got["cookie"], got["json"]) == ("portal.example", "dsp_session=s1", None)
    posted = await api.post("/v1/echo/x", {"ids": ["é"], "all": False})
    assert posted["json"] == {"ids": ["é"], "all": False} and posted["content_type"] == "application/json"
    assert posted["cookie"] == "dsp_session=s1; dsp_flow=next-step"  # the cookie the API set is sent back
    assert api.set_cookies and api.set_cookies[0].startswith("dsp_flow=next-step")
    missing = await api.raw("GET", "/v1/nowhere")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
