"""The gateway's typed clients, one per service it calls: each method is one route of the service's internal HTTP
API, its `schemas.*` request contract in and its `schemas.*` answer contract out (`RecordsClient.detail(query) ->
DocumentDetail`), so a route never builds a path, a raw body or a `model_validate` of its own. Under them is
`calls.py` (POST + JSON with a service token; a refusal the service explains kept, anything else a 503).

They are made once per gateway over the `httpx.AsyncClient`s of app.py's lifespan (`Context.clients`)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from .access import AccessClient
from .activation import ActivationClient
from .notify import NotifyClient
from .records import RecordsClient

__all__ = ["AccessClient", "ActivationClient", "Clients", "NotifyClient", "RecordsClient"]


@dataclass(frozen=True)
class Clients:
    activation: ActivationClient
    access: AccessClient
    records: RecordsClient
    notify: NotifyClient

    @classmethod
    def over(cls, activation: httpx.AsyncClient, access: httpx.AsyncClient, records: httpx.AsyncClient,
             notify: httpx.AsyncClient) -> Clients:
        return cls(ActivationClient(activation), AccessClient(access), RecordsClient(records), NotifyClient(notify))
