"""An ASGI app for a server on trio (Hypercorn's trio worker): sync and async resolvers and hooks.

- ``/rollout-token``: the middleware, a sync resolver (in an anyio worker thread) and a sync
  ``on_issue`` hook, whose calls ``/issued`` lists;
- ``/async-token``: a routed endpoint with an async resolver;
- ``/slow-token``: an async resolver that never returns, under a resolver timeout (503);
- ``/thread-sensitive-token``: a sync resolver with ``thread_sensitive=True``, which needs asyncio:
  500, logged once;
- ``/loop``: which event loop runs the app.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from rollout_middleware import RolloutTokenEndpoint, RolloutTokenMiddleware
from rollout_middleware.resolvers import trusted_header
from tests.support import CLIENT_ID, SECRET

CREDENTIALS: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": SECRET}
#: The ``on_issue`` calls: user id and whether it ran off the event loop's thread.
ISSUED: list[dict[str, Any]] = []
LOOP_THREAD: list[int] = []


def sync_user(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-user":
            return f"{value.decode('latin-1')}@{'thread' if _off_loop() else 'loop'}"
    return None


def _off_loop() -> bool:
    return bool(LOOP_THREAD) and threading.get_ident() != LOOP_THREAD[0]


def audit(user_id: str, expires_at: int, info: Any) -> None:
    ISSUED.append({"user": user_id, "off_loop": _off_loop(), "path": info["path"]})


async def never(scope: Scope) -> None:
    await anyio.Event().wait()


async def issued(request: Request) -> Response:
    return JSONResponse(ISSUED)


async def loop(request: Request) -> Response:
    if not LOOP_THREAD:
        LOOP_THREAD.append(threading.get_ident())
    import trio

    try:
        trio.lowlevel.current_root_task()
    except RuntimeError:
        return JSONResponse({"loop": "not trio"})
    return JSONResponse({"loop": "trio"})


inner = Starlette(
    routes=[
        Route("/loop", loop),
        Route("/issued", issued),
        Route(
            "/async-token",
            RolloutTokenEndpoint(resolve_user=trusted_header("X-User"), **CREDENTIALS),
        ),
        Route(
            "/slow-token",
            RolloutTokenEndpoint(resolve_user=never, resolver_timeout=0.2, **CREDENTIALS),
        ),
        Route(
            "/thread-sensitive-token",
            RolloutTokenEndpoint(resolve_user=sync_user, thread_sensitive=True, **CREDENTIALS),
        ),
    ]
)
app = RolloutTokenMiddleware(inner, resolve_user=sync_user, on_issue=audit, **CREDENTIALS)
