"""The dependency surface that the lower bounds in pyproject.toml promise, through both shells.

``nox -s oldest`` runs this file (with the rest of the suite) against the oldest starlette,
PyJWT, asgiref, Django and Flask that pyproject.toml allows, and ``nox -s tests`` against the
newest. Each test touches what the package takes from a dependency: PyJWT's HMAC and base64url,
asgiref's coroutine detection and thread bridges, Starlette's types and TestClient, and Django's
and Flask's own apps around the middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Scope

from rollout_middleware import RolloutTokenMiddleware, RolloutTokenWSGIMiddleware, TokenIssuer
from tests.compat.helpers import (
    CREDENTIALS,
    USER,
    asgi_client,
    check_stack,
    check_token,
    free_port,
    require_module,
    serve,
    wsgi_client,
)
from tests.support import CLIENT_ID, SECRET

SHELLS = ["asgi", "wsgi"]


async def inner(request: Request) -> PlainTextResponse:
    return PlainTextResponse("inner")


plain_asgi = Starlette(routes=[Route("/{path:path}", inner)])


def plain_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"inner"]


@contextlib.contextmanager
def shell_client(shell: str, resolve_user: Callable[..., Any], **options: Any) -> Iterator[Any]:
    """A client for the plain app, wrapped by the ``shell``'s middleware."""
    if shell == "asgi":
        asgi = RolloutTokenMiddleware(
            plain_asgi, resolve_user=resolve_user, **CREDENTIALS, **options
        )
        with asgi_client(asgi) as client:
            yield client
    else:
        wsgi = RolloutTokenWSGIMiddleware(
            plain_wsgi, resolve_user=resolve_user, **CREDENTIALS, **options
        )
        with wsgi_client(wsgi) as client:
            yield client


def user_of(request: dict[str, Any]) -> str | None:
    """``X-User`` from an ASGI scope or a WSGI environ."""
    if "headers" in request:
        return next((v.decode() for k, v in request["headers"] if k == b"x-user"), None)
    value = request.get("HTTP_X_USER")
    return None if value is None else str(value)


def sync_resolver(request: dict[str, Any]) -> str | None:
    return user_of(request)


async def async_resolver(request: dict[str, Any], suffix: str = "") -> str | None:
    await asyncio.sleep(0)
    user = user_of(request)
    return None if user is None else user + suffix


class AsyncCallable:
    async def __call__(self, request: dict[str, Any]) -> str | None:
        return await async_resolver(request)


RESOLVERS = {
    "sync": sync_resolver,
    "async": async_resolver,
    "async-partial": functools.partial(async_resolver, suffix=""),
    "async-callable-object": AsyncCallable(),
}


def test_tokens_match_pyjwt_byte_for_byte() -> None:
    """What tokens.py promises: PyJWT's own encoding, decodable by PyJWT."""
    issuer = TokenIssuer(CLIENT_ID, SECRET, clock=lambda: 1_700_000_000)
    claims = {"iss": CLIENT_ID, "sub": USER, "iat": 1_700_000_000, "exp": 1_700_000_900}
    token = issuer.mint(USER)
    assert token == jwt.encode(claims, SECRET, algorithm="HS512")
    decoded = jwt.decode(
        token, SECRET, algorithms=["HS512"], issuer=CLIENT_ID, options={"verify_exp": False}
    )
    assert decoded == claims


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("kind", list(RESOLVERS))
def test_every_resolver_kind(shell: str, kind: str) -> None:
    """asgiref tells sync from async (partials and async ``__call__`` included) in both shells."""
    with shell_client(shell, RESOLVERS[kind]) as client:
        check_token(client.get("/rollout-token", headers={"X-User": USER}))
        assert client.get("/rollout-token").status_code == 401
        assert client.get("/other").text == "inner"


@pytest.mark.parametrize("thread_sensitive", [False, True])
def test_sync_resolver_never_runs_on_the_event_loop(thread_sensitive: bool) -> None:
    seen: list[bool] = []

    def resolver(scope: Scope) -> str:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            seen.append(False)
        else:
            seen.append(True)
        return USER

    app = RolloutTokenMiddleware(
        plain_asgi, resolve_user=resolver, thread_sensitive=thread_sensitive, **CREDENTIALS
    )
    with asgi_client(app) as client:
        check_token(client.get("/rollout-token"))
    assert seen == [False]


@pytest.mark.parametrize("shell", SHELLS)
def test_async_resolver_timeout_is_503(shell: str) -> None:
    async def slow(request: dict[str, Any]) -> str:
        await asyncio.sleep(30)
        return USER

    with shell_client(shell, slow, resolver_timeout=0.2) as client:
        answer = client.get("/rollout-token")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"


def test_flask_wsgi_app_hook() -> None:
    """Flask: ``app.wsgi_app = RolloutTokenWSGIMiddleware(app.wsgi_app, ...)``."""
    flask = require_module("flask")
    app = flask.Flask(__name__)

    @app.get("/hello")
    def hello() -> str:
        return "hello from flask"

    @app.post("/echo")
    def echo() -> bytes:
        return flask.request.get_data()

    app.wsgi_app = RolloutTokenWSGIMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, resolve_user=sync_resolver, **CREDENTIALS
    )
    with wsgi_client(app) as client:
        check_stack(client, hello="hello from flask")
        assert client.get("/missing").status_code == 404


@pytest.mark.server
@pytest.mark.parametrize(
    ("target", "server"),
    [
        pytest.param("django_app:asgi", "uvicorn", id="asgi-uvicorn"),
        pytest.param("django_app:wsgi", "waitress", id="wsgi-waitress"),
    ],
)
def test_django_under_a_server(target: str, server: str) -> None:
    """Django's own ASGI and WSGI handlers, wrapped, each under a real server."""
    require_module("django")
    require_module(server)
    port = free_port()
    if server == "uvicorn":
        argv = ["uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off"]
    else:
        argv = ["waitress", f"--listen=127.0.0.1:{port}"]
    with serve(target, argv, port) as url, httpx.Client(base_url=url) as client:
        check_stack(client, hello="hello from django")
        assert client.get("/missing").status_code == 404
