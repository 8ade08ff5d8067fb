"""Contract `lab.results.v1`: a laboratory's result report for one patient (JSON value)."""

from __future__ import annotations

import base64
import binascii
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from .fields import Identifier, Matricule, MessageId, ShortText

LOINC = Annotated[str, StringConstraints(pattern=r"^\d{1,7}-\d$")]
UNIT = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9%\[\]{}/.*^()'_+-]{1,30}$")]


class LabResultStatus(StrEnum):
    PRELIMINARY = "preliminary"
    FINAL = "final"
    CORRECTED = "corrected"
    CANCELLED = "cancelled"


class Interpretation(StrEnum):
    NORMAL = "N"
    LOW = "L"
    HIGH = "H"
    CRITICAL_LOW = "LL"
    CRITICAL_HIGH = "HH"
    ABNORMAL = "A"


class LabResultKey(BaseModel):
    """Kafka key `<laboratory_id>:<report_id>`: all versions of one report share a partition."""

    laboratory_id: Identifier
    report_id: Identifier

    @classmethod
    def parse(cls, raw: bytes | None) -> LabResultKey:
        if not raw:
            raise ValueError("message key is missing: expected '<laboratory_id>:<report_id>'")
        lab, sep, report = raw.decode("utf-8", errors="replace").partition(":")
        if not sep:
            raise ValueError("message key must be '<laboratory_id>:<report_id>'")
        return cls(laboratory_id=lab, report_id=report)

    def encode(self) -> bytes:
        return f"{self.laboratory_id}:{self.report_id}".encode()


class Observation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    loinc: LOINC = Field(description="LOINC code, e.g. 718-7 (haemoglobin)")
    display: ShortText = Field(description="Human-readable name of the observation")
    value: float | None = Field(default=None, allow_inf_nan=False, description="Numeric value (with unit)")
    unit: UNIT | None = Field(default=None, description="UCUM unit of `value`, e.g. g/dL, mmol/L, 10*9/L")
    value_text: ShortText | None = Field(default=None, description="Textual result, instead of value + unit")
    reference_low: float | None = Field(default=None, allow_inf_nan=False, description="Lower reference limit")
    reference_high: float | None = Field(default=None, allow_inf_nan=False, description="Upper reference limit")
    interpretation: Interpretation | None = Field(default=None, description="Flag: N L H LL HH A")

    @model_validator(mode="after")
    def _value_or_text(self) -> Observation:
        numeric = self.value is not None or self.unit is not None
        if numeric and self.value_text is not None:
            raise ValueError("give either value + unit or value_text, not both")
        if numeric and (self.value is None or self.unit is None):
            raise ValueError("a numeric result needs both value and unit")
        if not numeric and self.value_text is None:
            raise ValueError("an observation needs value + unit or value_text")
        return self


class Attachment(BaseModel):
    content_type: Literal["application/pdf", "image/jpeg", "image/png"] = Field(description="MIME type")
    data_base64: str = Field(description="The document, base64-encoded (standard alphabet)")

    @field_validator("data_base64")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("data_base64 is not valid base64") from None
        return value


class LabResultV1(BaseModel):
    """One laboratory report. Idempotent on (laboratory_id, message_id)."""

    model_config = ConfigDict(extra="ignore", title="LabResultV1")

    message_id: MessageId = Field(description="Producer's unique id for this message")
    laboratory_id: Identifier = Field(description="Publishing laboratory")
    report_id: Identifier = Field(description="Report id, stable across corrections")
    status: LabResultStatus = Field(description="preliminary | final | corrected | cancelled")
    patient_matricule: Matricule
    prescriber_id: Identifier | None = Field(default=None, description="Prescribing professional")
    collected_at: AwareDatetime = Field(description="Specimen collection time, ISO 8601 with offset")
    reported_at: AwareDatetime = Field(description="Report time, ISO 8601 with offset")
    title: ShortText | None = Field(default=None, description="Report title, e.g. 'Hémogramme'")
    observations: list[Observation] = Field(default_factory=list, max_length=500,
                                            description="At least one unless status is cancelled")
    attachment: Attachment | None = Field(default=None, description="Optional report document")

    @model_validator(mode="after")
    def _rules(self) -> LabResultV1:
        if self.status is not LabResultStatus.CANCELLED and not self.observations:
            raise ValueError("observations: at least one observation is required unless status is cancelled")
        if self.collected_at > self.reported_at:
            raise ValueError("collected_at must not be after reported_at")
        return self
