"""Starlette and FastAPI wiring, with real sessions and the ready-made resolvers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from rollout_middleware import ConfigurationError, RolloutTokenEndpoint, RolloutTokenMiddleware
from rollout_middleware.resolvers import (
    authenticated_user,
    session_user,
    trusted_environ_header,
    trusted_header,
)

from .apps.starlette_app import build_app
from .support import CLIENT_ID, SECRET, verify_token

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": SECRET}


def login(client: TestClient, username: str, password: str) -> None:
    response = client.post(
        "/login", data={"username": username, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303


def test_session_login_logout_and_switch_user() -> None:
    with TestClient(build_app()) as client:
        assert client.get("/rollout-token").status_code == 401
        login(client, "alice", "wonderland")
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "alice"
        assert client.get("/").json() == {"user": "alice"}
        client.post("/logout")
        assert client.get("/rollout-token").status_code == 401
        login(client, "bob", "builder")
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "bob"


def test_tampered_session_cookie_is_anonymous() -> None:
    with TestClient(build_app()) as client:
        login(client, "alice", "wonderland")
        cookie = client.cookies["session"]
        client.cookies.clear()
        client.cookies.set("session", cookie[:-4] + "AAAA")
        assert client.get("/rollout-token").status_code == 401


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


async def broken(request: Request) -> PlainTextResponse:
    raise ValueError("the app's own error")


async def echo_ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("ws ok")
    await websocket.close()


def _routes() -> list[Any]:
    return [Route("/", home), Route("/broken", broken), WebSocketRoute("/ws", echo_ws)]


def _check_app_unaffected(client: TestClient) -> None:
    assert client.get("/").text == "home"
    assert client.get("/missing").status_code == 404
    assert client.get("/broken").status_code == 500
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "ws ok"


def test_middleware_in_the_apps_list() -> None:
    started: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started.append("up")
        yield

    app = Starlette(
        routes=_routes(),
        middleware=[Middleware(RolloutTokenMiddleware, resolve_user=lambda s: "m", **CREDENTIALS)],
        lifespan=lifespan,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "m"
        _check_app_unaffected(client)
    assert started == ["up"]


def test_add_middleware() -> None:
    app = Starlette(routes=_routes())
    app.add_middleware(RolloutTokenMiddleware, resolve_user=lambda s: "a", **CREDENTIALS)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "a"
        _check_app_unaffected(client)


def test_route_and_mount_of_the_endpoint() -> None:
    endpoint = RolloutTokenEndpoint(resolve_user=lambda s: "e", **CREDENTIALS)
    app = Starlette(
        routes=[
            Route("/rollout-token", endpoint),
            Mount("/auth/rollout", endpoint),
            *_routes(),
        ]
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "e"
        assert verify_token(client.get("/auth/rollout/").json()["token"])["sub"] == "e"
        _check_app_unaffected(client)


def test_middleware_inside_a_mounted_sub_app() -> None:
    inner = Starlette(routes=_routes())
    inner.add_middleware(RolloutTokenMiddleware, resolve_user=lambda s: "sub", **CREDENTIALS)
    app = Starlette(routes=[Mount("/api", inner)])
    with TestClient(app) as client:
        assert client.get("/api/rollout-token").status_code == 200
        assert client.get("/rollout-token").status_code == 404
        assert client.get("/api/").text == "home"


class HeaderAuth(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        name = conn.headers.get("x-login")
        if not name:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(name)


def test_authentication_middleware_resolver() -> None:
    app = Starlette(
        routes=_routes(),
        middleware=[
            Middleware(AuthenticationMiddleware, backend=HeaderAuth()),
            Middleware(RolloutTokenMiddleware, resolve_user=authenticated_user(), **CREDENTIALS),
        ],
    )
    with TestClient(app) as client:
        token = client.get("/rollout-token", headers={"x-login": "carol"}).json()["token"]
        assert verify_token(token)["sub"] == "carol"
        assert client.get("/rollout-token").status_code == 401


def test_trusted_header_resolvers() -> None:
    app = Starlette(
        routes=_routes(),
        middleware=[
            Middleware(
                RolloutTokenMiddleware, resolve_user=trusted_header("X-Auth-User"), **CREDENTIALS
            )
        ],
    )
    with TestClient(app) as client:
        token = client.get("/rollout-token", headers={"x-auth-user": "dave"}).json()["token"]
        assert verify_token(token)["sub"] == "dave"
        assert client.get("/rollout-token", headers={"x-auth-user": ""}).status_code == 401
        assert client.get("/rollout-token").status_code == 401
    resolve = trusted_environ_header("X-Auth-User")
    assert resolve({"HTTP_X_AUTH_USER": "erin"}) == "erin"
    assert resolve({}) is None
    with pytest.raises(ConfigurationError):
        trusted_header("X Auth")


@pytest.mark.parametrize("resolver", [session_user(), authenticated_user()])
def test_resolver_without_its_middleware_is_a_500_logged_once_with_the_fix(
    resolver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A wiring mistake only a request shows: one log record that says what must run first and
    how (``add_middleware`` runs the last added first), not a traceback on every request."""
    app = Starlette(
        routes=_routes(),
        middleware=[Middleware(RolloutTokenMiddleware, resolve_user=resolver, **CREDENTIALS)],
    )
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get("/rollout-token").status_code == 500
        assert client.get("/").text == "home"
    records = [r for r in caplog.records if r.name == "rollout_middleware"]
    assert len(records) == 1
    (record,) = records
    assert record.levelname == "ERROR"
    assert record.exc_info is None
    message = record.getMessage()
    assert "Middleware must run before the token middleware" in message
    assert "list it before RolloutTokenMiddleware" in message
    assert "the middleware added last runs first" in message
    assert "logged once" in message


def test_fastapi_one_line() -> None:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    # The middleware added last runs first: the session must be loaded before the token middleware.
    app.add_middleware(RolloutTokenMiddleware, resolve_user=session_user(), **CREDENTIALS)
    app.add_middleware(SessionMiddleware, secret_key="k")

    @app.post("/login/{name}")
    async def do_login(name: str, request: Request) -> dict[str, str]:
        request.session["user_id"] = name
        return {"ok": name}

    with TestClient(app) as client:
        assert client.get("/items/3").json() == {"item_id": 3}
        assert client.get("/rollout-token").status_code == 401
        client.post("/login/frank")
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "frank"
        assert client.get("/items/x").status_code == 422
        assert client.get("/openapi.json").status_code == 200


def test_fastapi_mount_of_endpoint_and_dependencies_unaffected() -> None:
    app = FastAPI()

    def dep() -> str:
        return "dep"

    @app.get("/dep")
    async def uses_dep(value: str = Depends(dep)) -> dict[str, str]:
        return {"value": value}

    app.mount("/rollout-token", RolloutTokenEndpoint(resolve_user=lambda s: "g", **CREDENTIALS))
    with TestClient(app) as client:
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "g"
        assert client.get("/dep").json() == {"value": "dep"}


@pytest.mark.parametrize("name", ["X-用户", "X-Usér", "X User", "", "X:User"])
def test_trusted_header_refuses_a_name_no_request_can_carry(name: str) -> None:
    from rollout_middleware.resolvers import trusted_environ_header, trusted_header

    for resolver in (trusted_header, trusted_environ_header):
        with pytest.raises(ConfigurationError, match="RFC 9110 token"):
            resolver(name)
