"""Bottle: the Bottle app inside ``RolloutTokenWSGIMiddleware``."""

from __future__ import annotations

from typing import Any

import bottle

from rollout_middleware import RolloutTokenWSGIMiddleware
from rollout_middleware.resolvers import trusted_environ_header
from tests.compat.apps import TEAPOT
from tests.support import CLIENT_ID, SECRET

HELLO = "hello from bottle"


def create_app(**credentials: Any) -> RolloutTokenWSGIMiddleware:
    app = bottle.Bottle()

    @app.get("/hello")
    def hello() -> str:
        bottle.response.content_type = "text/plain"
        return HELLO

    @app.post("/echo")
    def echo() -> bytes:
        bottle.response.content_type = "text/plain"
        return bottle.request.body.read()

    @app.get("/teapot")
    def teapot() -> None:
        bottle.abort(418)

    @app.error(418)
    def teapot_page(error: bottle.HTTPError) -> str:
        bottle.response.content_type = "text/plain"
        return TEAPOT

    return RolloutTokenWSGIMiddleware(
        app, resolve_user=trusted_environ_header("X-User"), **credentials
    )


app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
