"""Litestar: the token route added by ``RolloutTokenPlugin``, the user from a Litestar dependency.

``create_wrapped_app`` shows the other way: the whole Litestar app inside
``RolloutTokenMiddleware``. Litestar runs its own middleware (``DefineMiddleware``,
``ASGIMiddleware``) only after routing, for paths that have a route:
``create_define_middleware_app`` shows that it sees ``/rollout-token`` only when some route
(a front end's catch-all) matches it.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import State

from rollout_middleware import RolloutTokenMiddleware
from rollout_middleware.contrib.litestar import RolloutTokenPlugin
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


@get("/{path:path}", media_type=MediaType.TEXT)
async def front_end() -> str:
    """A single-page app's catch-all route: every other path is the front end's."""
    return "the front end"


async def header_user(request: Request[Any, Any, Any]) -> str | None:
    """The user id dependency (a stand-in for an authenticating proxy's header)."""
    return request.headers.get("x-user")


def _litestar(
    *handlers: Any, middleware: list[Any] | None = None, plugins: list[Any] | None = None
) -> Litestar:
    return Litestar(
        [hello, echo, lifespan_state, teapot, *handlers],
        on_startup=[startup],
        exception_handlers={TeapotError: teapot_handler},
        middleware=middleware,
        plugins=plugins,
    )


def create_app(**credentials: Any) -> Litestar:
    return _litestar(plugins=[RolloutTokenPlugin(header_user, **credentials)])


def create_wrapped_app(**credentials: Any) -> RolloutTokenMiddleware:
    return RolloutTokenMiddleware(_litestar(), resolve_user=trusted_header("X-User"), **credentials)


def create_define_middleware_app(*, catch_all: bool = False, **credentials: Any) -> Litestar:
    """``DefineMiddleware``: Litestar's middleware hook, which sees only routed paths."""
    from litestar.middleware import DefineMiddleware

    return _litestar(
        *([front_end] if catch_all else []),
        middleware=[
            DefineMiddleware(
                RolloutTokenMiddleware, resolve_user=trusted_header("X-User"), **credentials
            )
        ],
    )


app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
