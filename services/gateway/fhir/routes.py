"""The FHIR R4 door at `/fhir/r4` (read-only, for professionals' software): thin routes — decode, one read of
`reads.Reader`, answer in `application/fhir+json`. Every error is an `OperationOutcome` (`FhirRoute`), never the
portal API's problem+json.

Authentication: `POST /fhir/r4/auth/token` hands out a 5-minute bearer token that acts for one identified
professional, listed and active in access's directory, either for a registered practice's software (SMART Backend
Services: `client_credentials` with its signed JWT assertion, used once) or for the professional's own identity
(the identity provider's assertion, `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, used once as at
`/v1/pro/login`). A token is never logged, never on Kafka; only its hash is stored (`store/fhir.py`)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import jwt
import pydantic_core
import structlog
from fastapi import APIRouter, BackgroundTasks, Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from limits.errors import StorageError
from starlette.exceptions import HTTPException

from schemas.access import ProfessionalGet
from services.kit.errors import TRANSIENT

from ..bus import Unavailable
from ..calls import query as contract
from ..context import ctx
from ..limits import FhirLimits
from ..pro_assertion import AssertionRefused, check_assertion
from ..problems import Refusal
from ..store.fhir import FhirStore
from ..store.sessions import ProStore
from . import resources as fhir
from . import smart
from .capability import capability_statement, smart_configuration
from .ids import PatientIds
from .params import BadParameter, Query
from .reads import Reader

log = structlog.get_logger("dsp.gateway.fhir")
FHIR_JSON = "application/fhir+json"
PREFIX = "/fhir/r4"
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               413: "too-costly", 415: "not-supported", 422: "invalid", 429: "throttled", 503: "transient"}
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (Unavailable, *TRANSIENT, httpx.TransportError)


@dataclass
class FhirDoor:
    """The door's wiring (app.state.fhir): patient ids, its store, the registered clients, its public base URL,
    its rate limits."""

    ids: PatientIds
    store: FhirStore
    clients: dict[str, smart.Client]
    base_url: str | None
    published: datetime
    limits: FhirLimits

    def base(self, request: Request) -> str:
        return self.base_url or str(request.base_url).rstrip("/") + PREFIX


def answer(resource: fhir.Json, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The resource as `application/fhir+json`, written by pydantic-core as the export is: the bytes of
    JSONResponse's compact, UTF-8, non-ASCII-unescaped JSON (a float's exponent aside: `1e-7`, not `1e-07`) at a
    fraction of the standard library's cost. Values are finite (the lab-result contract refuses NaN and
    infinities); one that was not would be written `null`, never as invalid JSON."""
    return Response(pydantic_core.to_json(resource, inf_nan_mode="null"), status, headers, media_type=FHIR_JSON)


def outcome(status: int, diagnostics: str, code: str | None = None,
            headers: Mapping[str, str] | None = None) -> Response:
    sent = {**(headers or {}), **({"WWW-Authenticate": 'Bearer realm="dsp-fhir"'} if status == 401 else {})}
    return answer(fhir.operation_outcome(code or ISSUE_CODES.get(status, "exception"), diagnostics), status,
                  sent or None)


class FhirRoute(APIRoute):
    """A FHIR route: whatever goes wrong is answered as an OperationOutcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except BadParameter as exc:
                return outcome(400, exc.reason, exc.code)
            except smart.Refused as exc:
                return outcome(400 if exc.error in ("invalid_scope", "unsupported_grant_type", "invalid_request")
                               else 401, exc.reason)
            except HTTPException as exc:
                status = 400 if exc.status_code == 422 else exc.status_code
                return outcome(status, str(exc.detail) if status < 500 else "a service did not answer; try again",
                               headers={"Retry-After": exc.headers["Retry-After"]}
                               if exc.headers and "Retry-After" in exc.headers else None)
            except RequestValidationError:
                return outcome(400, "the request does not follow this API (see the CapabilityStatement)")
            except TRANSIENT_ERRORS:
                return outcome(503, "a service did not answer in time; try again")
            except Exception as exc:  # noqa: BLE001 - a bug: answered as FHIR says, logged without the request
                log.error("unhandled error", error=type(exc).__name__, route=self.path)
                return outcome(500, "internal error; try again later", "exception")
        return guarded


router = APIRouter(prefix=PREFIX, route_class=FhirRoute, include_in_schema=False)


def door(request: Request) -> FhirDoor:
    found: FhirDoor = request.app.state.fhir
    return found


async def granted(request: Request, authorization: Annotated[str | None, Header()] = None) -> smart.Grant:
    """The grant of this request's bearer token, else 401; 429 past its caller's limit (its client and
    professional: `limits.FhirLimits.call`)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(401, "a bearer token is required (POST /fhir/r4/auth/token)")
    d = door(request)
    found = await d.store.grant(token.strip())
    if found is None:
        raise Refusal(401, "the token is unknown or has expired; ask for a new one")
    retry = d.limits.call(found.client_id, found.professional)
    if retry is not None:
        raise _throttled("too many requests for this client and professional; wait a minute", retry)
    return found


def _throttled(reason: str, retry: int) -> Refusal:
    return Refusal(429, reason, headers={"Retry-After": str(retry)})


async def _token_allowed(request: Request, d: FhirDoor) -> None:
    """A token request counted against its client address (shared by every replica), before anything is checked."""
    address = getattr(request.state, "client_address", None) or (request.client.host if request.client else "-")
    try:
        retry = await d.limits.token(address)
    except StorageError as exc:
        log.warning("rate-limit store unreachable; answered 503", error=type(exc.storage_error).__name__)
        raise Refusal(503, "try again in a moment") from None
    if retry is not None:
        raise _throttled("too many token requests from this address; wait a minute", retry)


Granted = Annotated[smart.Grant, Depends(granted)]


def reader(request: Request, grant: Granted, resource: str) -> Reader:
    if not smart.allows(grant.scopes, resource):
        raise Refusal(403, f"the token's scopes do not allow reading {resource}")
    d = door(request)
    return Reader(ctx(request), d.ids, d.base(request), grant)


def query(request: Request, allowed: tuple[str, ...], form: dict[str, str] | None = None) -> Query:
    pairs = list(request.query_params.multi_items()) + list((form or {}).items())
    return Query.of(pairs, allowed)


# -- conformance and authentication ---------------------------------------------------------------------------------

@router.get("/metadata")
async def metadata(request: Request) -> Response:
    d = door(request)
    return answer(capability_statement(d.base(request), d.published, request.app.version))


@router.get("/.well-known/smart-configuration")
async def smart_config(request: Request) -> Response:
    return JSONResponse(smart_configuration(door(request).base(request)))


@router.post("/auth/token")
async def token(request: Request, background: BackgroundTasks) -> Response:
    """An access token for a registered client's signed assertion, or for the identity provider's assertion."""
    d = door(request)
    await _token_allowed(request, d)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    now = request.app.state.clock()
    grant_type = form.get("grant_type")
    if grant_type == "client_credentials":
        grant = await _client_grant(d, form, f"{d.base(request)}/auth/token", now)
    elif grant_type == smart.JWT_BEARER:
        grant = await _professional_grant(request, form, now)
    else:
        raise smart.Refused("grant_type is client_credentials or urn:ietf:params:oauth:grant-type:jwt-bearer",
                            "unsupported_grant_type")
    listed = await ctx(request).clients.access.professional(
        contract(ProfessionalGet, None, professional_id=grant.professional))
    if not listed.listed or not listed.active:
        raise Refusal(401, "the professional is not listed and active in the professional directory")
    access_token, ttl = await d.store.issue(grant)
    if d.store.purge_due():
        background.add_task(d.store.purge)
    log.info("fhir token issued", professional_id=grant.professional, client_id=grant.client_id)
    return JSONResponse({"access_token": access_token, "token_type": "bearer", "expires_in": ttl,
                         "scope": " ".join(sorted(grant.scopes))}, headers={"Cache-Control": "no-store"})


async def _client_grant(d: FhirDoor, form: dict[str, str], token_url: str, now: datetime) -> smart.Grant:
    if form.get("client_assertion_type") != smart.ASSERTION_TYPE or not form.get("client_assertion"):
        raise smart.Refused(f"client_credentials needs client_assertion_type={smart.ASSERTION_TYPE} and a "
                            "client_assertion", "invalid_request")
    assertion = form["client_assertion"]
    try:
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        raise smart.Refused("the client assertion is not a JWT") from None
    client = d.clients.get(form.get("client_id") or str(issuer))
    if client is None:
        raise smart.Refused("unknown client")
    claims = smart.check_client_assertion(assertion, client, token_url, now.timestamp())
    grant = smart.client_grant(claims, client, form.get("scope", ""))
    if not await d.store.use_client_assertion(client.client_id, claims["jti"],
                                              datetime.fromtimestamp(claims["exp"], UTC)):
        raise smart.Refused("this client assertion was already used (jti)")
    return grant


async def _professional_grant(request: Request, form: dict[str, str], now: datetime) -> smart.Grant:
    key: bytes | None = request.app.state.pro_idp_key
    if key is None:
        raise Refusal(503, "professional login is not configured on this gateway")
    try:
        claims = check_assertion(key, form.get("assertion", ""), now.timestamp())
    except AssertionRefused as refused:
        raise smart.Refused(refused.reason) from None
    scopes = smart.parse_scopes(form.get("scope") or "user/*.read")
    sessions: ProStore = request.app.state.pro_sessions
    if not await sessions.use_assertion(claims.jti, claims.subject, datetime.fromtimestamp(claims.expires, UTC)):
        raise smart.Refused("assertion already used")
    return smart.Grant(claims.subject, scopes, None)


# -- reads ---------------------------------------------------------------------------------------------------------

PATIENT_SEARCH = ("identifier", "_id")


@router.get("/Patient")
async def patients(request: Request, grant: Granted) -> Response:
    return answer(await reader(request, grant, "Patient").patients(query(request, PATIENT_SEARCH)))


@router.post("/Patient/_search")
async def patients_post(request: Request, grant: Granted) -> Response:
    """The search in the body (application/x-www-form-urlencoded): the matricule stays out of every URL."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    return answer(await reader(request, grant, "Patient").patients(query(request, PATIENT_SEARCH, form)))


@router.get("/Patient/{pid}")
async def patient(pid: str, request: Request, grant: Granted) -> Response:
    return answer(await reader(request, grant, "Patient").patient(pid))


@router.get("/DocumentReference")
async def document_references(request: Request, grant: Granted) -> Response:
    allowed = ("patient", "subject", "date", "type", "status")
    return answer(await reader(request, grant, "DocumentReference").document_references(query(request, allowed)))


@router.get("/DocumentReference/{document_id}")
async def document_reference(document_id: str, request: Request, grant: Granted) -> Response:
    return answer(await reader(request, grant, "DocumentReference").document_reference(_id(document_id)))


@router.get("/DiagnosticReport")
async def diagnostic_reports(request: Request, grant: Granted) -> Response:
    allowed = ("patient", "subject", "date", "status")
    return answer(await reader(request, grant, "DiagnosticReport").diagnostic_reports(query(request, allowed)))


@router.get("/DiagnosticReport/{document_id}")
async def diagnostic_report(document_id: str, request: Request, grant: Granted) -> Response:
    return answer(await reader(request, grant, "DiagnosticReport").report(_id(document_id)))


@router.get("/DiagnosticReport/{document_id}/_history")
async def report_history(document_id: str, request: Request, grant: Granted) -> Response:
    return answer(await reader(request, grant, "DiagnosticReport").history(_id(document_id)))


@router.get("/DiagnosticReport/{document_id}/_history/{version}")
async def report_version(document_id: str, version: str, request: Request, grant: Granted) -> Response:
    return answer(await reader(request, grant, "DiagnosticReport").report(_id(document_id), version))


@router.get("/Observation")
async def observations(request: Request, grant: Granted) -> Response:
    allowed = ("patient", "subject", "code", "date")
    return answer(await reader(request, grant, "Observation").observations(query(request, allowed)))


@router.get("/Binary/{binary_id}")
async def binary(binary_id: str, request: Request, grant: Granted,
                 accept: Annotated[str | None, Header()] = None) -> Response:
    """The file itself, or (Accept: application/fhir+json) a `Binary` resource holding it."""
    file = await reader(request, grant, "Binary").binary(_id(binary_id))
    if accept and ("fhir+json" in accept or "application/json" in accept):
        return answer(fhir.binary(file))
    return Response(base64.b64decode(file.data_base64), media_type=file.content_type,
                    headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"})


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown(rest: str) -> Response:
    return outcome(404, "not served here: this FHIR API is read-only (see /fhir/r4/metadata)", "not-supported")


FHIR_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}")  # a FHIR id that is also a DSP identifier


def _id(text: str) -> str:
    """A FHIR id (1-64 of A-Z a-z 0-9 - .) that can be a DSP document's (it starts with a letter or digit);
    anything else is no resource of ours."""
    if FHIR_ID.fullmatch(text) is None:
        raise Refusal(404, "no such resource")
    return text

