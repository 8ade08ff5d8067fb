"""A patient's writes to her documents, asynchronous (their `command_id` is polled at
`/v1/me/commands/{command_id}`): an upload (the file parsed whole first: a polyglot or a damaged file is refused)
and a block or unblock (of a document of this DSP: another's is a 404)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from schemas.portal import Accepted
from schemas.records_api import DocumentQuery

from .. import uploads
from ..context import Acting, Context
from ..problems import Refusal
from .commands import command_id, records_command


async def upload(c: Context, who: Acting, fields: dict[str, Any]) -> Accepted:
    """`fields`: the upload's title, content_type, data_base64 and document_date, as the client sent them."""
    try:
        data = base64.b64decode(fields["data_base64"], validate=True)
    except binascii.Error:
        raise Refusal(422, "data_base64 is not valid base64") from None
    try:
        await uploads.check_async(fields["content_type"], data)
    except uploads.Refused as exc:
        raise Refusal(exc.status, exc.reason) from None
    sent = command_id()
    await records_command(c, who.patient, {"command": "upload-document", "command_id": sent,
                                           "patient_matricule": who.patient, "uploaded_by": who.user, **fields})
    return Accepted(document_id=uploads.upload_id(sent), status="accepted", command_id=sent)


async def visibility(c: Context, who: Acting, document_id: str, action: Literal["block", "unblock"]) -> Accepted:
    await c.clients.records.detail(DocumentQuery(patient=who.patient, viewer="patient", document_id=document_id))
    sent = command_id()
    await records_command(c, who.patient, {"command": f"{action}-document", "command_id": sent,
                                           "patient_matricule": who.patient, "requested_by": who.user,
                                           "document_id": document_id})
    return Accepted(document_id=document_id, status="accepted", command_id=sent)
