"""Pyramid: the token endpoint as a view through ``pyramid.wsgi.wsgiapp`` (``app``), or the whole
Pyramid app inside ``RolloutTokenWSGIMiddleware`` (``create_wrapped_app``).
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.router import Router
from pyramid.wsgi import wsgiapp

from rollout_middleware import RolloutTokenWSGIEndpoint, RolloutTokenWSGIMiddleware
from rollout_middleware.resolvers import trusted_environ_header
from tests.compat.apps import TEAPOT
from tests.support import CLIENT_ID, SECRET

HELLO = "hello from pyramid"


class TeapotError(Exception):
    """Raised by ``/teapot``; the app's exception view turns it into a 418."""


def hello(request: Request) -> Response:
    return Response(HELLO, content_type="text/plain")


def echo(request: Request) -> Response:
    return Response(body=request.body, content_type="text/plain")


def teapot(request: Request) -> Response:
    raise TeapotError


def teapot_view(error: TeapotError, request: Request) -> Response:
    return Response(TEAPOT, status=418, content_type="text/plain")


def _configurator() -> Configurator:
    config = Configurator()
    config.add_route("hello", "/hello")
    config.add_view(hello, route_name="hello")
    config.add_route("echo", "/echo", request_method="POST")
    config.add_view(echo, route_name="echo")
    config.add_route("teapot", "/teapot")
    config.add_view(teapot, route_name="teapot")
    config.add_exception_view(teapot_view, context=TeapotError)
    return config


def create_app(**credentials: Any) -> Router:
    config = _configurator()
    endpoint = RolloutTokenWSGIEndpoint(
        resolve_user=trusted_environ_header("X-User"), **credentials
    )
    config.add_route("rollout_token", "/rollout-token")
    config.add_view(wsgiapp(endpoint), route_name="rollout_token")
    return config.make_wsgi_app()


def create_wrapped_app(**credentials: Any) -> RolloutTokenWSGIMiddleware:
    return RolloutTokenWSGIMiddleware(
        _configurator().make_wsgi_app(),
        resolve_user=trusted_environ_header("X-User"),
        **credentials,
    )


app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
