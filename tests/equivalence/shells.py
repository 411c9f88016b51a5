"""The two protocol shells, the reference every adapter is compared with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from wsgiref.validate import validator

try:
    import httpx2
except ModuleNotFoundError:  # Python 3.10
    import httpx as httpx2
from starlette.testclient import TestClient
from starlette.types import Scope

from rollout_middleware import RolloutTokenMiddleware, RolloutTokenWSGIMiddleware

from ..shells import asgi_app, wsgi_app
from ..support import pep3333_transport
from . import Adapter, register, user_from_header

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment


def user_of_scope(scope: Scope) -> Any:
    value = dict(scope["headers"]).get(b"x-user")
    return user_from_header(None if value is None else value.decode("latin-1"))


def user_of_environ(environ: WSGIEnvironment) -> Any:
    return user_from_header(environ.get("HTTP_X_USER"))


@contextlib.contextmanager
def asgi(**options: Any) -> Iterator[Any]:
    app = RolloutTokenMiddleware(asgi_app, resolve_user=user_of_scope, **options)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


@contextlib.contextmanager
def wsgi(**options: Any) -> Iterator[Any]:
    app = RolloutTokenWSGIMiddleware(validator(wsgi_app), resolve_user=user_of_environ, **options)
    transport = pep3333_transport(validator(app))
    with httpx2.Client(transport=transport, base_url="http://testserver") as client:
        yield client


REFERENCE = register(Adapter("asgi", asgi))
register(Adapter("wsgi", wsgi))
