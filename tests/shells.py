"""Run one behaviour suite against both shells: ASGI and WSGI, with the same neutral inputs.

A test describes its resolver as a function of the request headers (a ``dict`` with lower-case
names), and gets back an HTTP client for the middleware (or the endpoint) built by either shell.
The ASGI shell is driven through Starlette's ``TestClient``; the WSGI shell through httpx's
``WSGITransport``, with both the middleware and the app it wraps under
``wsgiref.validate.validator``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from wsgiref.util import shift_path_info
from wsgiref.validate import validator

try:
    import httpx2
except ModuleNotFoundError:  # Python 3.10: httpx2 needs 3.11+, Starlette falls back to httpx
    import httpx as httpx2
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from rollout_middleware import (
    RolloutTokenEndpoint,
    RolloutTokenMiddleware,
    RolloutTokenWSGIEndpoint,
    RolloutTokenWSGIMiddleware,
)

from .support import CLIENT_ID, SECRET

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

HeaderResolver = Callable[[dict[str, str]], Any]
PASS_BODY = b"the app itself"


def header_user(headers: dict[str, str]) -> Any:
    """The neutral resolver most tests use: the user id is the ``x-user`` header, if any."""
    return headers.get("x-user")


async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The wrapped ASGI app: runs the lifespan, answers every request with its method and path."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    assert scope["type"] == "http"
    body = b"%s %s %s" % (PASS_BODY, scope["method"].encode(), scope["path"].encode())
    await send(
        {
            "type": "http.response.start",
            "status": 299,
            "headers": [(b"content-length", str(len(body)).encode()), (b"x-app", b"yes")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The wrapped WSGI app: answers every request with its method and path."""
    body = b"%s %s %s" % (
        PASS_BODY,
        environ["REQUEST_METHOD"].encode(),
        environ["PATH_INFO"].encode("latin-1"),
    )
    start_response(
        "299 App",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), ("X-App", "yes")],
    )
    return [body]


def _mount_wsgi(prefix: str, app: Any) -> Any:
    """A minimal WSGI mount: move ``prefix`` from PATH_INFO to SCRIPT_NAME."""
    segments = prefix.strip("/").split("/")

    def mounted(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        for segment in segments:
            if shift_path_info(environ) != segment:
                start_response(
                    "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")]
                )
                return []
        return app(environ, start_response)  # type: ignore[no-any-return]

    return mounted


@dataclass
class Shell:
    name: str

    def resolver(self, func: HeaderResolver, *, is_async: bool = False) -> Any:
        """``func`` as this shell's resolver (of a scope or an environ), sync or async."""
        if self.name == "asgi":

            def from_scope(scope: Scope) -> Any:
                return func({k.decode(): v.decode("latin-1") for k, v in scope["headers"]})

            if not is_async:
                return from_scope

            async def from_scope_async(scope: Scope) -> Any:
                await asyncio.sleep(0)
                return from_scope(scope)

            return from_scope_async

        def from_environ(environ: WSGIEnvironment) -> Any:
            headers = {
                key[5:].lower().replace("_", "-"): value
                for key, value in environ.items()
                if key.startswith("HTTP_")
            }
            return func(headers)

        if not is_async:
            return from_environ

        async def from_environ_async(environ: WSGIEnvironment) -> Any:
            await asyncio.sleep(0)
            return from_environ(environ)

        return from_environ_async

    def middleware(self, resolve: Any, **options: Any) -> Any:
        options.setdefault("client_id", CLIENT_ID)
        options.setdefault("client_secret", SECRET)
        if self.name == "asgi":
            return RolloutTokenMiddleware(asgi_app, resolve_user=resolve, **options)
        return RolloutTokenWSGIMiddleware(validator(wsgi_app), resolve_user=resolve, **options)

    def client(
        self,
        func: HeaderResolver = header_user,
        *,
        is_async: bool = False,
        resolve: Any = None,
        mount: str = "",
        endpoint: bool = False,
        **options: Any,
    ) -> httpx2.Client:
        """A client for the middleware (or, with ``endpoint=True``, the endpoint at the path)."""
        if resolve is None:
            resolve = self.resolver(func, is_async=is_async)
        options.setdefault("client_id", CLIENT_ID)
        options.setdefault("client_secret", SECRET)
        if self.name == "asgi":
            app: Any
            if endpoint:
                path = options.pop("path", "/rollout-token")
                token = RolloutTokenEndpoint(resolve_user=resolve, **options)
                app = Starlette(routes=[Route(path, token), Mount("/", asgi_app)])
            else:
                app = RolloutTokenMiddleware(asgi_app, resolve_user=resolve, **options)
            if mount:
                app = Starlette(routes=[Mount(mount, app)])
            return TestClient(app, base_url="http://testserver")
        if endpoint:
            path = options.pop("path", "/rollout-token")
            token_app = RolloutTokenWSGIEndpoint(resolve_user=resolve, **options)
            inner = validator(wsgi_app)

            def routed(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
                if environ["PATH_INFO"] == path:
                    return token_app(environ, start_response)
                return inner(environ, start_response)

            wapp: Any = routed
        else:
            wapp = RolloutTokenWSGIMiddleware(validator(wsgi_app), resolve_user=resolve, **options)
        wapp = validator(wapp)
        if mount:
            wapp = _mount_wsgi(mount, wapp)
        transport = httpx2.WSGITransport(app=_pep3333_path(wapp))
        return httpx2.Client(transport=transport, base_url="http://testserver")


def _pep3333_path(app: Any) -> Any:
    """Give ``app`` the PATH_INFO a PEP 3333 server would: UTF-8 bytes decoded as latin-1.

    httpx's ``WSGITransport`` passes the decoded text instead; gunicorn, waitress and wsgiref do not.
    """

    def fixed(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["PATH_INFO"] = environ["PATH_INFO"].encode("utf-8").decode("latin-1")
        return app(environ, start_response)  # type: ignore[no-any-return]

    return fixed
