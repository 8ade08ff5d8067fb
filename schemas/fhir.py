"""Contract `lab.results.fhir.v1`: a FHIR R4 Bundle carrying one lab report (key: <laboratory_id>:<report_id>).

This model documents the envelope only; the worker parses the whole Bundle with fhir.resources and maps
it as described in services/records/domain/fhir.py (identifier systems included).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class BundleIdentifier(BaseModel):
    system: str | None = Field(default=None, description="The laboratory's message id namespace")
    value: str = Field(description="Unique message id (becomes message_id)")


class FhirLabBundleV1(BaseModel):
    model_config = ConfigDict(extra="allow", title="FhirLabBundleV1")

    resourceType: Literal["Bundle"] = Field(description="Always 'Bundle'")
    type: str = Field(description="Bundle type, e.g. 'collection' or 'message'")
    identifier: BundleIdentifier = Field(description="Unique message id of this publication")
    entry: list[dict[str, Any]] = Field(description="One DiagnosticReport, one Patient (matricule identifier "
                                                    "urn:dsp-mesh:fhir:sid:matricule), the performing Organization "
                                                    "(urn:dsp-mesh:fhir:sid:laboratory) and the Observations")
