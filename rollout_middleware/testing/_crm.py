"""The stand-in's CRM: ``/people`` and ``/webhooks`` per credential, and Rollout's list pages."""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

#: The paths the CRM serves: their errors take the CRM's shape, ``{"errorMessage": ...}``.
CRM_PATHS = ("/people", "/webhooks")
#: The most items one page holds.
MAX_LIMIT = 100

_CURSOR_PREFIX = "offset:"


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if not text.startswith(_CURSOR_PREFIX) or not text[len(_CURSOR_PREFIX) :].isdigit():
        raise HTTPException(400, "Invalid next cursor")
    return int(text[len(_CURSOR_PREFIX) :])


def page(request: Request, collection: str, items: Sequence[Any]) -> JSONResponse:
    """One page of ``items``, from the ``next`` (or ``offset``) and ``limit`` query parameters."""
    query = request.query_params
    try:
        limit = int(query.get("limit", str(MAX_LIMIT)))
        offset = _offset(query["next"]) if query.get("next") else int(query.get("offset", "0"))
    except ValueError:
        raise HTTPException(400, "limit and offset must be whole numbers") from None
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise HTTPException(400, f"limit must be from 1 to {MAX_LIMIT}, offset 0 or more")
    chunk = list(items[offset : offset + limit])
    end = offset + len(chunk)
    cursor = _cursor(end) if end < len(items) else None
    link = None if cursor is None else str(request.url.include_query_params(next=cursor))
    metadata = {
        "collection": collection,
        "offset": offset,
        "limit": limit,
        "total": len(items),
        "next": cursor,
        "nextLink": link,
    }
    return JSONResponse({"_metadata": metadata, collection: chunk})


async def _object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise HTTPException(400, "The body must be a JSON object")
    return body


class CRM:
    """People and webhook subscriptions in memory, per credential id."""

    def __init__(
        self,
        credential_of: Callable[[Request], str],
        clock: Callable[[], float],
    ) -> None:
        self._credential_of = credential_of
        self._clock = clock
        self._lock = threading.Lock()
        self._people: dict[str, list[dict[str, Any]]] = {}
        self._webhooks: dict[str, dict[str, dict[str, Any]]] = {}

    def routes(self) -> list[Route]:
        return [
            Route("/people", self._people_route, methods=["GET", "POST"]),
            Route("/webhooks", self._webhooks_route, methods=["GET", "POST"]),
            Route("/webhooks/{webhook_id}", self._webhook_route, methods=["GET", "DELETE"]),
        ]

    def people(self, credential_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._people.get(credential_id, []))

    def webhooks(self, credential_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._webhooks.get(credential_id, {}).values()))

    def _new(self, body: dict[str, Any]) -> dict[str, Any]:
        created = datetime.datetime.fromtimestamp(self._clock(), datetime.timezone.utc)
        stamp = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {**body, "id": str(uuid.uuid4()), "createdAt": stamp}

    async def _people_route(self, request: Request) -> Response:
        credential_id = self._credential_of(request)
        if request.method == "GET":
            return page(request, "people", self.people(credential_id))
        person = self._new(await _object(request))
        with self._lock:
            self._people.setdefault(credential_id, []).append(person)
        return JSONResponse(person, status_code=201)

    async def _webhooks_route(self, request: Request) -> Response:
        credential_id = self._credential_of(request)
        if request.method == "GET":
            return page(request, "webhooks", self.webhooks(credential_id))
        body = await _object(request)
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise HTTPException(400, "url must be an http(s) URL")
        webhook = self._new(body)
        with self._lock:
            self._webhooks.setdefault(credential_id, {})[webhook["id"]] = webhook
        return JSONResponse(webhook, status_code=201)

    async def _webhook_route(self, request: Request) -> Response:
        credential_id = self._credential_of(request)
        webhook_id = request.path_params["webhook_id"]
        with self._lock:
            owned = self._webhooks.get(credential_id, {})
            webhook = owned.get(webhook_id)
            if webhook is None:
                raise HTTPException(404, "Webhook not found")
            if request.method == "DELETE":
                del owned[webhook_id]
                return Response(status_code=204)
            return JSONResponse(webhook)
