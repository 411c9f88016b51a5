"""Falcon: ``falcon.asgi.App`` inside ``RolloutTokenMiddleware`` (``asgi``), and ``falcon.App``
inside ``RolloutTokenWSGIMiddleware`` (``wsgi``).

Falcon's own middleware sees Falcon's ``Request``/``Response`` objects, not ASGI or WSGI, so the
token middleware wraps the app, as any ASGI/WSGI middleware does.
"""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

from rollout_middleware import RolloutTokenMiddleware, RolloutTokenWSGIMiddleware
from rollout_middleware.resolvers import trusted_environ_header, trusted_header
from tests.compat.apps import TEAPOT
from tests.support import CLIENT_ID, SECRET

HELLO = "hello from falcon"


class TeapotError(Exception):
    """Raised by ``/teapot``; the app's error handler turns it into a 418."""


class AsyncResources:
    def __init__(self) -> None:
        self.started = False

    async def process_startup(self, scope: dict[str, Any], event: dict[str, Any]) -> None:
        self.started = True

    async def on_get_hello(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = HELLO

    async def on_post_echo(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.data = await req.stream.read()

    async def on_get_lifespan(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"started": self.started}

    async def on_get_teapot(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        raise TeapotError


async def async_teapot(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, error: Exception, params: Any
) -> None:
    resp.status = 418
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = TEAPOT


class SyncResources:
    def on_get_hello(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = HELLO

    def on_post_echo(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.data = req.bounded_stream.read()

    def on_get_teapot(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise TeapotError


def sync_teapot(req: falcon.Request, resp: falcon.Response, error: Exception, params: Any) -> None:
    resp.status = 418
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = TEAPOT


def create_asgi_app(**credentials: Any) -> RolloutTokenMiddleware:
    resources = AsyncResources()
    app = falcon.asgi.App(middleware=[resources])
    for name in ("hello", "echo", "lifespan", "teapot"):
        app.add_route(f"/{name}", resources, suffix=name)
    app.add_error_handler(TeapotError, async_teapot)
    return RolloutTokenMiddleware(app, resolve_user=trusted_header("X-User"), **credentials)


def create_wsgi_app(**credentials: Any) -> RolloutTokenWSGIMiddleware:
    resources = SyncResources()
    app = falcon.App()
    for name in ("hello", "echo", "teapot"):
        app.add_route(f"/{name}", resources, suffix=name)
    app.add_error_handler(TeapotError, sync_teapot)
    return RolloutTokenWSGIMiddleware(
        app, resolve_user=trusted_environ_header("X-User"), **credentials
    )


asgi = create_asgi_app(client_id=CLIENT_ID, client_secret=SECRET)
wsgi = create_wsgi_app(client_id=CLIENT_ID, client_secret=SECRET)
