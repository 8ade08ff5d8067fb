"""The audit trail's trust contracts: access's checkpoints of each chain's head (`access.audit-heads.v1`), a
patient's signed export of her trail, and the public key that checks both (a JWKS).

A checkpoint is a compact JWS (EdDSA, access's audit signing key) whose claims are `iss` ("access"), `sub` (a keyed
pseudonym of the patient — never the matricule), `seq` and `hash` (the chain's head) and `iat` (epoch seconds); the
topic is compacted on that pseudonym, so it keeps each chain's latest checkpoint. An export is a JSON document
signed by the same key: a detached JWS (RFC 7515 appendix F) over the canonical JSON (sorted keys, no spaces,
UTF-8) of the document without its `signature`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

EXPORT_FORMAT = "dsp-mesh.audit-export.v1"


class AuditHeadV1(BaseModel):
    """`access.audit-heads.v1`: access's signed checkpoint of one chain's head (key: the patient's pseudonym)."""

    model_config = ConfigDict(extra="ignore", title="AuditHeadV1")

    jws: str = Field(min_length=20, max_length=4096,
                     description="Compact JWS (EdDSA, header kid = the key's RFC 7638 thumbprint, typ "
                                 "dsp-audit-head+jwt); claims iss 'access', sub (the record's key), seq, hash, iat")


class Jwk(BaseModel):
    model_config = ConfigDict(title="Jwk")

    kty: str = Field(description="OKP")
    crv: str = Field(description="Ed25519")
    x: str = Field(description="The public key, base64url")
    kid: str = Field(description="Its RFC 7638 thumbprint, the `kid` of what it signed")
    alg: str = Field(description="EdDSA")
    use: str = Field(description="sig")


class Jwks(BaseModel):
    """The key set that checks access's audit signatures (checkpoints and exported trails)."""

    model_config = ConfigDict(title="Jwks")

    keys: list[Jwk] = Field(description="access's audit signing key(s)")


class ExportedActor(BaseModel):
    model_config = ConfigDict(title="ExportedActor")

    kind: str = Field(description="patient | professional | operator")
    id: str = Field(description="A matricule, a professional's directory id, or the service or operator")
    name: str | None = Field(description="Named as access knows them (none: not known)")


class ExportedEntry(BaseModel):
    """One entry exactly as the chain holds it (so it can be checked again), with who acted named."""

    model_config = ConfigDict(title="ExportedEntry")

    seq: int = Field(description="Its place in the chain, from 0")
    at: str = Field(description="When (ISO 8601, as the chain hashes it)")
    actor_kind: str = Field(description="patient | professional | operator")
    actor_id: str = Field(description="Who acted")
    who: ExportedActor = Field(description="Who acted, named")
    action: str = Field(description="read | manage | a command's name")
    document: str | None = Field(description="The document read, if one was")
    allowed: bool = Field(description="Allowed, or the command accepted")
    reason: str = Field(description="The rule or grant it rested on, or why it was refused")
    via: str = Field(description="The service that asked (empty: none recorded)")
    justification: str = Field(description="Break the glass: the professional's justification (else empty)")
    prev_hash: str = Field(description="The hash of the entry before (64 zeros for the first)")
    hash: str = Field(description="Its own hash: access's HMAC (mac hmac-sha256) or a SHA-256 (older entries)")
    mac: str = Field(description="hmac-sha256, or empty for an entry from before access keyed its entries")


class ExportedHead(BaseModel):
    model_config = ConfigDict(title="ExportedHead")

    seq: int = Field(description="The last entry's seq")
    hash: str = Field(description="Its hash")


class ExportedCheckpoint(BaseModel):
    model_config = ConfigDict(title="ExportedCheckpoint")

    seq: int = Field(description="The entry access last checkpointed")
    hash: str = Field(description="Its hash, as checkpointed")
    at: int = Field(description="When (epoch seconds)")
    jws: str = Field(description="The checkpoint as access published it (a compact JWS, the same key)")


class ExportedVerification(BaseModel):
    model_config = ConfigDict(title="ExportedVerification")

    intact: bool = Field(description="The chain verified against access's key and checkpoint when exported")
    reason: str = Field(description="'audit trail intact', or the first broken entry and why")
    not_checkpointed: int = Field(description="Entries after the checkpoint (not yet checkpointed)")


class ExportSignature(BaseModel):
    model_config = ConfigDict(title="ExportSignature")

    alg: str = Field(description="EdDSA")
    kid: str = Field(description="The signing key's thumbprint (its `kid` in the published key set)")
    jws: str = Field(description="Detached compact JWS (header..signature) over the canonical JSON of the "
                                 "document without `signature`")


class AuditExportV1(BaseModel):
    """A patient's whole audit trail, in order, signed by access ('Télécharger mon journal signé')."""

    model_config = ConfigDict(title="AuditExport")

    format: str = Field(description=EXPORT_FORMAT)
    patient: str = Field(description="Whose trail (the matricule)")
    exported_at: str = Field(description="When it was exported (RFC 3339, UTC)")
    entries: list[ExportedEntry] = Field(description="Every entry, oldest first")
    head: ExportedHead | None = Field(description="The chain's head (none: no entry)")
    checkpoint: ExportedCheckpoint | None = Field(description="access's latest checkpoint of the chain (none yet)")
    verification: ExportedVerification = Field(description="How the chain verified when exported")
    signature: ExportSignature = Field(description="access's signature over the rest of the document")
