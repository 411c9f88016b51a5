"""A bare WSGI app wrapped in RolloutTokenWSGIMiddleware: the WSGI servers' test app.

``/rollout-token`` is the middleware with the sync ``trusted_environ_header`` resolver (on the
request thread); ``/async-token`` is a ``RolloutTokenWSGIEndpoint`` mounted with Werkzeug's
``DispatcherMiddleware`` and an async resolver (run through asgiref's ``async_to_sync``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

from rollout_middleware import RolloutTokenWSGIEndpoint, RolloutTokenWSGIMiddleware
from rollout_middleware.resolvers import trusted_environ_header
from tests.support import CLIENT_ID, SECRET

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

HELLO = "hello from wsgi"


def inner(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path == "/hello":
        body = HELLO.encode()
    elif path == "/echo" and environ["REQUEST_METHOD"] == "POST":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def async_user(environ: WSGIEnvironment) -> str | None:
    value = environ.get("HTTP_X_USER")
    return None if value is None else str(value)


def create_app(**credentials: Any) -> WSGIApplication:
    wrapped = RolloutTokenWSGIMiddleware(
        inner, resolve_user=trusted_environ_header("X-User"), **credentials
    )
    endpoint = RolloutTokenWSGIEndpoint(resolve_user=async_user, **credentials)
    return DispatcherMiddleware(wrapped, {"/async-token": endpoint})


app = create_app(client_id=CLIENT_ID, client_secret=SECRET)
