"""Litestar: the token endpoint as an ``@asgi`` route handler, Litestar's own way to mount ASGI apps.

Litestar runs its middleware (``DefineMiddleware``, ``ASGIMiddleware``) only after routing, for
paths that have a route, so a middleware cannot answer ``/rollout-token`` on its own; a route
handler can. ``create_wrapped_app`` shows the other way: the whole Litestar app inside
``RolloutTokenMiddleware``.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.handlers import asgi

from rollout_middleware import RolloutTokenEndpoint, RolloutTokenMiddleware
from rollout_middleware.resolvers import trusted_header
from tests.compat.apps import TEAPOT
from tests.support import CLIENT_ID, SECRET

HELLO = "hello from litestar"


class TeapotError(Exception):
    """Raised by ``/teapot``; the app's exception handler turns it into a 418."""


@get("/hello", media_type=MediaType.TEXT)
async def hello() -> str:
    return HELLO


@post("/echo", media_type=MediaType.TEXT, status_code=200)
async def echo(request: Request[Any, Any, Any]) -> bytes:
    return await request.body()


@get("/lifespan")
async def lifespan_state(state: State) -> dict[str, bool]:
    return {"started": bool(state.get("started", False))}


@get("/teapot")
async def teapot() -> None:
    raise TeapotError


def teapot_handler(request: Request[Any, Any, Any], exc: TeapotError) -> Response[str]:
    return Response(TEAPOT, status_code=418, media_type=MediaType.TEXT)


def startup(app: Litestar) -> None:
    app.state.started = True


def _litestar(*handlers: Any, middleware: list[Any] | None = None) -> Litestar:
    return Litestar(
        [hello, echo, lifespan_state, teapot, *handlers],
        on_startup=[startup],
        exception_handlers={TeapotError: teapot_handler},
        middleware=middleware,
    )


def create_app(**credentials: Any) -> Litestar:
    endpoint = RolloutTokenEndpoint(resolve_user=trusted_header("X-User"), **credentials)
    # The endpoint never changes the scope: no copy needed.
    return _litestar(asgi("/rollout-token", copy_scope=False)(endpoint))


def create_wrapped_app(**credentials: Any) -> RolloutTokenMiddleware:
    return RolloutTokenMiddleware(_litestar(), resolve_user=trusted_header("X-User"), **credentials)


def create_define_middleware_app(**credentials: Any) -> Litestar:
    """``DefineMiddleware``: Litestar's middleware hook, which never sees unrouted paths."""
    from litestar.middleware import DefineMiddleware

    return _litestar(
        middleware=[
            DefineMiddleware(
                RolloutTokenMiddleware, resolve_user=trusted_header("X-User"), **credentials
            )
        ]
    )


app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
