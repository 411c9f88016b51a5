"""Quart: the ``RolloutToken`` extension, with a sync resolver reading Quart's ``request``.

A sync resolver runs as Quart runs a sync view: in a worker thread, in the request context.
``create_wrapped_app`` shows the other way: ``app.asgi_app = RolloutTokenMiddleware(app.asgi_app,
...)``, Quart's documented ASGI hook, whose resolver sees only the ASGI scope.
"""

from __future__ import annotations

from typing import Any

from quart import Quart, request
from starlette.types import Scope

from rollout_middleware import RolloutTokenMiddleware
from rollout_middleware.contrib.quart import RolloutToken
from tests.compat.apps import TEAPOT
from tests.support import CLIENT_ID, SECRET

HELLO = "hello from quart"


class TeapotError(Exception):
    """Raised by ``/teapot``; the app's error handler turns it into a 418."""


def user_from_header(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-user":
            return str(value.decode("latin-1"))
    return None


def header_user() -> str | None:
    """The resolver: no argument, Quart's request context (a stand-in for a session read)."""
    return request.headers.get("x-user")


def create_app(**credentials: Any) -> Quart:
    app = _quart()
    RolloutToken(app, resolve_user=header_user, **credentials)
    return app


def create_wrapped_app(**credentials: Any) -> Quart:
    app = _quart()
    app.asgi_app = RolloutTokenMiddleware(  # type: ignore[method-assign]
        app.asgi_app, resolve_user=user_from_header, **credentials
    )
    return app


def _quart() -> Quart:
    app = Quart(__name__)
    app.config["STARTED"] = False

    @app.before_serving
    async def startup() -> None:
        app.config["STARTED"] = True

    @app.get("/hello")
    async def hello() -> str:
        return HELLO

    @app.post("/echo")
    async def echo() -> bytes:
        return await request.get_data(as_text=False)

    @app.get("/lifespan")
    async def lifespan_state() -> dict[str, bool]:
        return {"started": app.config["STARTED"]}

    @app.get("/teapot")
    async def teapot() -> str:
        raise TeapotError

    @app.errorhandler(TeapotError)
    async def teapot_handler(error: TeapotError) -> tuple[str, int]:
        return TEAPOT, 418

    return app


app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
