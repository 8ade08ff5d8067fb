"""notify's read API for the portal (`services/notify/api/notifications.py`): a person's in-app notices, cursor
pages with the unread count, and marking them read."""

from __future__ import annotations

import httpx

from schemas.notify import MarkReadRequest, MarkReadResultV1, NotificationListQuery, NotificationPageV1

from ..calls import ask

SERVICE = "notify"


class NotifyClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def notifications(self, query: NotificationListQuery) -> NotificationPageV1:
        return await ask(self.http, SERVICE, "/v1/notifications/list", query, NotificationPageV1, keep=(422,))

    async def mark_read(self, request: MarkReadRequest) -> MarkReadResultV1:
        return await ask(self.http, SERVICE, "/v1/notifications/read", request, MarkReadResultV1, keep=(422,),
                         where="body")
