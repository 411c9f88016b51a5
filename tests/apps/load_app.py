"""The app the load and fault tests serve over real uvicorn and gunicorn servers on 127.0.0.1.

The user is whoever the ``x-user`` header (or, failing that, the ``uid`` cookie) names: a stand-in
for a session. The resolver waits a little before it reads the request again, so concurrent
requests interleave inside it. ``x-fault: raise`` makes it raise, ``x-fault: hang`` makes it hang
(longer than ``resolver_timeout``, which ``LOAD_RESOLVER_TIMEOUT`` sets).

``GET /ping`` is the wrapped app itself; ``GET /sleep`` (ASGI) waits 0.2 s on the event loop and
answers how many token requests were waiting in a hung resolver meanwhile.
Credentials come from ``ROLLOUT_CLIENT_ID`` and ``ROLLOUT_CLIENT_SECRET``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from rollout_middleware import RolloutTokenMiddleware, RolloutTokenWSGIMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

TIMEOUT = float(os.environ.get("LOAD_RESOLVER_TIMEOUT", "10"))
HANGING = 0


def _user(header: str | None, cookie: str | None) -> str | None:
    if header:
        return header
    if cookie:
        morsel = SimpleCookie(cookie).get("uid")
        return morsel.value if morsel else None
    return None


def _scope_header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def resolve_asgi(scope: Scope) -> str | None:
    global HANGING
    fault = _scope_header(scope, b"x-fault")
    if fault == "raise":
        raise RuntimeError("the user store failed")
    if fault == "hang":
        HANGING += 1
        try:
            await asyncio.sleep(3600)
        finally:
            HANGING -= 1
    await asyncio.sleep(random.uniform(0, 0.004))
    return _user(_scope_header(scope, b"x-user"), _scope_header(scope, b"cookie"))


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    body = b"pong"
    if scope["path"] == "/sleep":
        await asyncio.sleep(0.2)
        body = b"hanging=%d" % HANGING
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


asgi = RolloutTokenMiddleware(
    app, resolve_user=resolve_asgi, resolver_timeout=TIMEOUT, methods=("GET", "POST")
)


def resolve_wsgi(environ: WSGIEnvironment) -> str | None:
    if environ.get("HTTP_X_FAULT") == "raise":
        raise RuntimeError("the user store failed")
    time.sleep(random.uniform(0, 0.004))
    return _user(environ.get("HTTP_X_USER"), environ.get("HTTP_COOKIE"))


def wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    return [b"pong"]


wsgi: Any = RolloutTokenWSGIMiddleware(
    wsgi_app, resolve_user=resolve_wsgi, resolver_timeout=TIMEOUT, methods=("GET", "POST")
)
