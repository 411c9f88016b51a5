"""A Starlette app with a lifespan, wrapped in RolloutTokenMiddleware: the ASGI servers' test app.

``/rollout-token`` is the middleware, with the async ``trusted_header`` resolver (on the loop);
``/sync-token`` is a routed ``RolloutTokenEndpoint`` with a sync resolver (in a worker thread).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Scope

from rollout_middleware import RolloutTokenEndpoint, RolloutTokenMiddleware
from rollout_middleware.resolvers import trusted_header
from tests.support import CLIENT_ID, SECRET

HELLO = "hello from starlette"


def sync_user(scope: Scope) -> str | None:
    """A blocking-style resolver: the middleware runs it off the event loop."""
    for name, value in scope["headers"]:
        if name == b"x-user":
            return str(value.decode("latin-1"))
    return None


async def hello(request: Request) -> Response:
    return PlainTextResponse(HELLO)


async def echo(request: Request) -> Response:
    return PlainTextResponse(await request.body())


async def lifespan_state(request: Request) -> Response:
    return JSONResponse({"started": getattr(request.app.state, "started", False)})


def create_app(**credentials: Any) -> ASGIApp:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.started = True
        yield

    inner = Starlette(
        routes=[
            Route("/hello", hello),
            Route("/echo", echo, methods=["POST"]),
            Route("/lifespan", lifespan_state),
            Route("/sync-token", RolloutTokenEndpoint(resolve_user=sync_user, **credentials)),
        ],
        lifespan=lifespan,
    )
    return RolloutTokenMiddleware(inner, resolve_user=trusted_header("X-User"), **credentials)


app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
