"""access's API for the portal (`services/access/api/`): decisions, presence passwords, a DSP's access state and
audit trail (and its signed export, with the key that checks it), the DSPs one assists, a professional's patients,
the directory (a professional by id, a name search, the person lookup)."""

from __future__ import annotations

import httpx

from schemas.access import (
    AccessStateV1,
    AssistedPage,
    AssistedQuery,
    AuditPage,
    DecisionRequest,
    DecisionV1,
    PatientQuery,
    PatientsOfPage,
    PersonLookup,
    PersonV1,
    PresenceGenerated,
    PresenceGenerateRequest,
    PresenceRedeemRequest,
    ProfessionalGet,
    ProfessionalPage,
    ProfessionalQuery,
    ProfessionalSearch,
    ProfessionalStatusV1,
)
from schemas.audit import Jwks

from ..calls import ask, parsed, read
from ..problems import Refusal, upstream

SERVICE = "access"


class AccessClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def decide(self, request: DecisionRequest) -> DecisionV1:
        """access's decision (audited for a professional, and for an assistant's read); no answer is a 503."""
        reply = await self.http.post("/v1/decisions", json=request.model_dump(mode="json", exclude_none=True))
        if reply.status_code != 200:
            raise Refusal(503, "access decisions unavailable; try again")
        return parsed(DecisionV1, reply.json(), SERVICE)

    async def state(self, query: PatientQuery) -> AccessStateV1:
        return await ask(self.http, SERVICE, "/v1/access-state", query, AccessStateV1, keep=(403,))

    async def audit(self, query: PatientQuery) -> AuditPage:
        return await ask(self.http, SERVICE, "/v1/audit", query, AuditPage, keep=(403, 422))

    async def audit_export(self, query: PatientQuery) -> bytes:
        """The trail signed by access (`schemas.audit.AuditExportV1`), as access made it: its bytes are signed."""
        reply = await self.http.post("/v1/audit/export", json=query.model_dump(mode="json", exclude_none=True))
        if reply.status_code != 200:
            raise upstream(reply, SERVICE, keep=(403,))
        return reply.content

    async def keys(self) -> Jwks:
        return parsed(Jwks, await read(self.http, SERVICE, "/v1/audit/keys", {}, keep=()), SERVICE)

    async def assisted(self, query: AssistedQuery) -> AssistedPage:
        return await ask(self.http, SERVICE, "/v1/assisted", query, AssistedPage, keep=(422,))

    async def patients_of(self, query: ProfessionalQuery) -> PatientsOfPage:
        return await ask(self.http, SERVICE, "/v1/patients-of", query, PatientsOfPage, keep=(403, 404, 422))

    async def lookup(self, query: PersonLookup) -> PersonV1:
        return await ask(self.http, SERVICE, "/v1/persons/lookup", query, PersonV1, keep=(403, 404), where="body")

    async def search(self, query: ProfessionalSearch) -> ProfessionalPage:
        return await ask(self.http, SERVICE, "/v1/professionals/search", query, ProfessionalPage, keep=(422,))

    async def professional(self, query: ProfessionalGet) -> ProfessionalStatusV1:
        return await ask(self.http, SERVICE, "/v1/professionals/get", query, ProfessionalStatusV1, keep=())

    async def generate_presence(self, request: PresenceGenerateRequest) -> PresenceGenerated:
        """A new presence password (access keeps only its hash); its outcome comes on Kafka, under the request's
        `command_id`."""
        reply = await self.http.post("/v1/presence/generate", json=request.model_dump(mode="json"))
        if reply.status_code != 202:
            raise upstream(reply, SERVICE, keep=(403, 429))
        return parsed(PresenceGenerated, reply.json(), SERVICE)

    async def redeem_presence(self, request: PresenceRedeemRequest) -> None:
        """A professional's try at a presence password; its outcome comes on Kafka, under the request's
        `command_id`."""
        reply = await self.http.post("/v1/presence/redeem", json=request.model_dump(mode="json"))
        if reply.status_code != 202:
            raise upstream(reply, SERVICE, keep=(403, 429))
