"""rollout_middleware.contrib.aiohttp: aiohttp-session decides the user, under aiohttp's own server."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp_session
import httpx
import pytest
from aiohttp import web
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from rollout_middleware import ConfigurationError
from rollout_middleware.contrib import aiohttp as rollout_aiohttp

from ..loop_servers import aiohttp_server
from ..support import CLIENT_ID, SECRET, verify_token

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": SECRET}


async def session_user(request: web.Request) -> Any:
    return (await aiohttp_session.get_session(request)).get("user_id")


async def login(request: web.Request) -> web.Response:
    session = await aiohttp_session.new_session(request)
    session["user_id"] = request.match_info["user"]
    return web.Response(text="ok")


async def logout(request: web.Request) -> web.Response:
    (await aiohttp_session.get_session(request)).invalidate()
    return web.Response(text="bye")


@contextlib.contextmanager
def serve(
    resolve_user: Callable[[web.Request], Any] = session_user, **options: Any
) -> Iterator[httpx.Client]:
    def make_app() -> web.Application:
        app = web.Application()
        aiohttp_session.setup(app, EncryptedCookieStorage(b"k" * 32))
        app.router.add_post("/login/{user}", login)
        app.router.add_post("/logout", logout)
        rollout_aiohttp.setup(app, resolve_user=resolve_user, **CREDENTIALS, **options)
        return app

    with aiohttp_server(make_app) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with serve() as client:
        yield client


@pytest.mark.server
def test_the_session_decides_the_user(client: httpx.Client) -> None:
    client.cookies.clear()
    assert client.get("/rollout-token").status_code == 401
    assert client.post("/login/ada").status_code == 200
    response = client.get("/rollout-token")
    assert response.status_code == 200
    assert verify_token(response.json()["token"])["sub"] == "ada"
    # The core's Content-Type, as it is: aiohttp adds no charset.
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    client.post("/logout")
    assert client.get("/rollout-token").status_code == 401


@pytest.mark.server
def test_head_has_the_get_headers_and_no_body(client: httpx.Client) -> None:
    client.cookies.clear()
    client.post("/login/grace")
    got, head = client.get("/rollout-token"), client.head("/rollout-token")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]


@pytest.mark.server
def test_every_method_is_the_decisions(client: httpx.Client) -> None:
    response = client.request("PROPFIND", "/rollout-token")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.server
def test_a_sync_resolver_runs_off_the_loop() -> None:
    threads: list[str] = []

    def resolve(request: web.Request) -> str:
        threads.append(threading.current_thread().name)
        return request.headers["x-user"]

    with serve(resolve) as client:
        response = client.get("/rollout-token", headers={"x-user": "alan"})
    assert verify_token(response.json()["token"])["sub"] == "alan"
    assert threads
    assert threads[0] != "server-loop"


@pytest.mark.server
def test_an_http_exception_is_aiohttps_to_render() -> None:
    async def resolve(request: web.Request) -> Any:
        raise web.HTTPFound("/login")

    with serve(resolve) as client:
        response = client.get("/rollout-token")
    assert response.status_code == 302
    assert response.headers["location"] == "/login"


ORIGIN = "https://app.example"


@web.middleware
async def login_required(request: web.Request, handler: Any) -> web.StreamResponse:
    """An app's own auth middleware: it refuses before any handler runs (ours included)."""
    if "x-user" not in request.headers:
        raise web.HTTPUnauthorized(text="log in first")
    return await handler(request)


async def other_route(request: web.Request) -> web.Response:
    return web.Response(text="other")


@pytest.mark.server
@pytest.mark.parametrize("mount", ["", "/api"], ids=["app", "sub-app"])
def test_a_middlewares_refusal_carries_the_cors_of_an_allowed_origin(mount: str) -> None:
    def make_app() -> web.Application:
        inner = web.Application(middlewares=[login_required])
        inner.router.add_get("/other", other_route)
        rollout_aiohttp.setup(
            inner,
            resolve_user=lambda request: request.headers["x-user"],
            allowed_origins=(ORIGIN,),
            **CREDENTIALS,
        )
        if not mount:
            return inner
        outer = web.Application()
        outer.add_subapp(mount, inner)
        return outer

    with aiohttp_server(make_app) as url, httpx.Client(base_url=url) as client:
        refused = client.get(f"{mount}/rollout-token", headers={"origin": ORIGIN})
        foreign = client.get(f"{mount}/rollout-token", headers={"origin": "https://evil.example"})
        other = client.get(f"{mount}/other", headers={"origin": ORIGIN})
        served = client.get(f"{mount}/rollout-token", headers={"origin": ORIGIN, "x-user": "ada"})
    assert refused.status_code == 401
    assert refused.text == "log in first"
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert refused.headers["access-control-allow-credentials"] == "true"
    assert refused.headers["vary"] == "Origin"
    assert foreign.status_code == 401
    assert "access-control-allow-origin" not in foreign.headers
    assert other.status_code == 401
    assert "access-control-allow-origin" not in other.headers
    assert served.status_code == 200
    assert served.headers.get_list("access-control-allow-origin") == [ORIGIN]
    assert verify_token(served.json()["token"])["sub"] == "ada"


def test_without_allowed_origins_no_hook_is_added() -> None:
    app = web.Application()
    rollout_aiohttp.setup(app, resolve_user=session_user, **CREDENTIALS)
    assert not app.on_response_prepare


@pytest.mark.server
def test_the_resolvers_http_exception_carries_the_cors_of_an_allowed_origin() -> None:
    async def resolve(request: web.Request) -> Any:
        raise web.HTTPUnauthorized(text="log in first")

    with serve(resolve, allowed_origins=(ORIGIN,)) as client:
        refused = client.get("/rollout-token", headers={"origin": ORIGIN})
        foreign = client.get("/rollout-token", headers={"origin": "https://evil.example"})
    assert (refused.status_code, refused.text) == (401, "log in first")
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in foreign.headers


@pytest.mark.server
def test_a_slow_resolver_gets_503() -> None:
    async def resolve(request: web.Request) -> Any:
        await asyncio.Event().wait()

    with serve(resolve, resolver_timeout=0.05) as client:
        response = client.get("/rollout-token")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.server
def test_a_chunked_body_over_the_limit_gets_413() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"0123456789"
        yield b"0123456789"

    with serve(lambda request: "ada", methods=("POST",), max_body_size=8) as client:
        too_long = client.post("/rollout-token", content=chunks())
        short = client.post("/rollout-token", content=iter([b"{}"]))
    assert too_long.status_code == 413
    assert short.status_code == 200


def test_the_route_is_named() -> None:
    app = web.Application()
    rollout_aiohttp.setup(app, resolve_user=session_user, path="/auth/rollout", **CREDENTIALS)
    assert str(app.router[rollout_aiohttp.ROUTE_NAME].url_for()) == "/auth/rollout"


def _setup(**kwargs: Any) -> None:
    rollout_aiohttp.setup(web.Application(), **{"resolve_user": session_user, **kwargs})


@pytest.mark.parametrize(
    "resolve_user",
    [None, "session_user", lambda: None, lambda request, extra: None],
    ids=["none", "str", "no-argument", "two-arguments"],
)
def test_a_wrong_resolver_is_refused_at_setup(resolve_user: Any) -> None:
    with pytest.raises(ConfigurationError, match="resolve_user"):
        _setup(resolve_user=resolve_user, **CREDENTIALS)


def test_options_are_checked_at_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    unknown = r"setup\(\) got an unexpected keyword argument 'ttls'; did you mean 'ttl'\?"
    with pytest.raises(TypeError, match=unknown):
        _setup(ttls=60, **CREDENTIALS)
    with pytest.raises(TypeError, match="thread_sensitive"):
        _setup(thread_sensitive=True, **CREDENTIALS)
    with pytest.raises(ConfigurationError, match="methods"):
        _setup(methods="GET", **CREDENTIALS)
    with pytest.raises(ConfigurationError, match="resolver_timeout"):
        _setup(resolver_timeout=-1, **CREDENTIALS)
    with pytest.raises(ConfigurationError, match="client secret must be a str") as error:
        _setup(client_id=CLIENT_ID, client_secret=12)
    assert SECRET not in str(error.value)
    _setup(client_id=CLIENT_ID)  # the secret is read at the first token request


def test_setup_twice_is_refused() -> None:
    app = web.Application()
    rollout_aiohttp.setup(app, resolve_user=session_user, **CREDENTIALS)
    with pytest.raises(ConfigurationError, match="twice"):
        rollout_aiohttp.setup(app, resolve_user=session_user, **CREDENTIALS)


def test_without_the_extra_the_import_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    monkeypatch.delitem(sys.modules, "rollout_middleware.contrib.aiohttp")
    with pytest.raises(ImportError, match=r"rollout-middleware\[aiohttp\]"):
        importlib.import_module("rollout_middleware.contrib.aiohttp")
