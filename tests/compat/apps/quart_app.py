"""Quart: ``app.asgi_app = RolloutTokenMiddleware(app.asgi_app, ...)``, its documented ASGI hook.

The resolver is sync here, so the middleware runs it off the event loop (asgiref).
"""

from __future__ import annotations

from typing import Any

from quart import Quart, request
from starlette.types import Scope

from rollout_middleware import RolloutTokenMiddleware
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


def create_app(**credentials: Any) -> Quart:
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

    app.asgi_app = RolloutTokenMiddleware(  # type: ignore[method-assign]
        app.asgi_app, resolve_user=user_from_header, **credentials
    )
    return app


app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
