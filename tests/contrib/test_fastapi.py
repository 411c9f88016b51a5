"""``rollout_token_router``: FastAPI's own dependencies decide the user.

FastAPI's security tutorial app (``examples/fastapi_app.py``: ``OAuth2PasswordBearer``, JWT access
tokens, a ``get_db`` sub-dependency, a disabled user) and a session-cookie app run under real
uvicorn on 127.0.0.1, one of them under a ``root_path``; the rest runs in process with FastAPI's
``TestClient``. Every token is checked independently (``verify_token``, and PyJWT's ``jwt.decode``
with ``algorithms=["HS512"]``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import logging
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Annotated, Any

import httpx
import jwt
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Cookie,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Query,
    Request,
    Security,
    status,
)
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer, OAuth2PasswordBearer, SecurityScopes
from fastapi.testclient import TestClient
from pydantic import BaseModel, EmailStr

from rollout_middleware import ConfigurationError, TokenIssuer
from rollout_middleware.contrib.fastapi import RolloutToken, rollout_token_router

from ..apps import fastapi_session_app
from ..support import CLIENT_ID, PYTHON, ROOT, SECRET, free_port, running_server, verify_token

EXAMPLE = ROOT / "examples" / "fastapi_app.py"
ORIGIN = "https://app.example.com"
TOKEN_HEADERS = {
    "content-type": "application/json",
    "cache-control": "no-store",
    "pragma": "no-cache",
    "x-content-type-options": "nosniff",
}
ERRORS = ("401", "403", "405", "413", "500", "503")


def decode(token: str, sub: str) -> dict[str, Any]:
    """The token checked twice, independently: by hand and joserfc, then PyJWT with HS512 only."""
    claims = verify_token(token)
    assert claims["sub"] == sub
    decoded: dict[str, Any] = jwt.decode(token, SECRET, algorithms=["HS512"], issuer=CLIENT_ID)
    assert decoded == claims
    return decoded


def problem(response: httpx.Response, status_code: int) -> dict[str, Any]:
    assert response.status_code == status_code
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["status"] == status_code
    assert set(body) == {"type", "title", "status", "detail"}
    return body


def load_example(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh import of ``examples/fastapi_app.py``, with the Rollout credentials in the env."""
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    spec = importlib.util.spec_from_file_location("rollout_fastapi_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "rollout_fastapi_example", module)
    spec.loader.exec_module(module)
    return module


def bearer(client: httpx.Client | TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# --- The tutorial app under real uvicorn -----------------------------------------------------------


@contextlib.contextmanager
def example_server(*extra: str) -> Iterator[str]:
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "fastapi_app:app", "--app-dir", str(EXAMPLE.parent)]
    argv += ["--host", "127.0.0.1", "--port", str(port), *extra]
    env = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
    with running_server(argv, port, env=env, ready_path="/openapi.json") as url:
        yield url


@pytest.fixture(scope="module")
def tutorial_url() -> Iterator[str]:
    with example_server() as url:
        yield url


@pytest.mark.server
def test_tutorial_bearer_token_gets_a_token(tutorial_url: str) -> None:
    with httpx.Client(base_url=tutorial_url) as client:
        auth = bearer(client, "johndoe", "secret")
        response = client.get("/rollout-token", headers=auth)
        assert response.status_code == 200
        assert {k: response.headers[k] for k in TOKEN_HEADERS} == TOKEN_HEADERS
        body = response.json()
        assert set(body) == {"token", "expires_at", "expires_in"}
        claims = decode(body["token"], "johndoe")
        assert body["expires_at"] == claims["exp"]
        assert body["expires_in"] == 900
        # A fresh token on every request, and HEAD: the same headers, no body.
        head = client.head("/rollout-token", headers=auth)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == response.headers["content-length"]


@pytest.mark.server
def test_tutorial_auth_errors_are_fastapis(tutorial_url: str) -> None:
    with httpx.Client(base_url=tutorial_url) as client:
        missing = client.get("/rollout-token")  # OAuth2PasswordBearer's own 401
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert missing.json() == {"detail": "Not authenticated"}
        forged = client.get("/rollout-token", headers={"Authorization": "Bearer not-a-jwt"})
        assert forged.status_code == 401  # get_current_user's credentials_exception
        assert forged.headers["www-authenticate"] == "Bearer"
        assert forged.json() == {"detail": "Could not validate credentials"}
        disabled = client.get("/rollout-token", headers=bearer(client, "alice", "secret2"))
        assert disabled.status_code == 400  # get_current_active_user
        assert disabled.json() == {"detail": "Inactive user"}


@pytest.mark.server
def test_tutorial_protections(tutorial_url: str) -> None:
    with httpx.Client(base_url=tutorial_url) as client:
        auth = bearer(client, "johndoe", "secret")
        cross_site = client.get("/rollout-token", headers={**auth, "Sec-Fetch-Site": "cross-site"})
        problem(cross_site, 403)
        posted = client.post("/rollout-token", headers=auth)
        problem(posted, 405)
        assert posted.headers["allow"] == "GET, HEAD"
        assert client.get("/users/me", headers=auth).status_code == 404  # nothing else added


@pytest.mark.server
def test_tutorial_openapi_schema(tutorial_url: str) -> None:
    with httpx.Client(base_url=tutorial_url) as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    check_openapi(schema, "/rollout-token", "get", {"OAuth2PasswordBearer": []})
    assert schema["components"]["securitySchemes"]["OAuth2PasswordBearer"] == {
        "type": "oauth2",
        "flows": {"password": {"scopes": {}, "tokenUrl": "token"}},
    }


def check_openapi(
    schema: dict[str, Any], path: str, method: str, security: dict[str, list[str]] | None
) -> dict[str, Any]:
    """The token operation: only ``method``, the response model, the errors, the security."""
    assert list(schema["paths"][path]) == [method]  # no HEAD, no OPTIONS
    operation: dict[str, Any] = schema["paths"][path][method]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/RolloutToken"}
    model = schema["components"]["schemas"]["RolloutToken"]
    assert model["required"] == ["token", "expires_at", "expires_in"]
    assert {name: field["type"] for name, field in model["properties"].items()} == {
        "token": "string",
        "expires_at": "integer",
        "expires_in": "integer",
    }
    # The problem's schema once, in components; each error refers to it.
    problem_schema = schema["components"]["schemas"]["RolloutTokenProblem"]
    assert problem_schema["required"] == ["type", "title", "status", "detail"]
    assert problem_schema["properties"]["status"]["type"] == "integer"
    for code in ERRORS:
        content = operation["responses"][code]["content"]
        assert content["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/RolloutTokenProblem"
        }
        # 401 and 403 may also be the app's own dependencies' answer: FastAPI's {"detail": ...}.
        assert sorted(content) == (
            ["application/json", "application/problem+json"]
            if code in ("401", "403")
            else ["application/problem+json"]
        )
        if code in ("401", "403"):
            assert content["application/json"]["schema"] == {
                "$ref": "#/components/schemas/HTTPErrorDetail"
            }
    assert schema["components"]["schemas"]["HTTPErrorDetail"]["required"] == ["detail"]
    if security is None:
        assert "security" not in operation
    else:
        assert operation["security"] == [security]
    return operation


@pytest.mark.server
def test_tutorial_under_root_path() -> None:
    """Behind a proxy that strips ``/app`` (``--root-path /app``): the browser's path is
    ``/app/rollout-token``, the proxy sends ``/rollout-token``, and the schema names the prefix."""
    with example_server("--root-path", "/app") as url, httpx.Client(base_url=url) as client:
        auth = bearer(client, "johndoe", "secret")
        response = client.get("/rollout-token", headers=auth)
        decode(response.json()["token"], "johndoe")
        schema = client.get("/openapi.json").json()
        assert schema["servers"] == [{"url": "/app"}]
        assert "/rollout-token" in schema["paths"]


# --- The session-cookie app, prefix="/api", under real uvicorn -------------------------------------


@pytest.mark.server
def test_session_app_with_prefix_under_uvicorn() -> None:
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "tests.apps.fastapi_session_app:app"]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    with running_server(argv, port) as url, httpx.Client(base_url=url) as client:
        problem(client.get("/api/rollout-token"), 401)
        assert client.post("/login", data={"username": "bob", "password": "builder"}).is_success
        decode(client.get("/api/rollout-token").json()["token"], "bob")
        assert client.get("/rollout-token").status_code == 404  # the prefix is the path
        client.post("/logout")
        problem(client.get("/api/rollout-token"), 401)


def test_session_app_in_process() -> None:
    with TestClient(fastapi_session_app.build_app()) as client:
        client.post("/login", data={"username": "alice", "password": "wonderland"})
        decode(client.get("/api/rollout-token").json()["token"], "alice")
        schema = client.get("/openapi.json").json()
    check_openapi(schema, "/api/rollout-token", "get", None)


# --- In process: the tutorial app ------------------------------------------------------------------


def test_example_in_process_and_dependency_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    example = load_example(monkeypatch)
    with TestClient(example.app) as client:
        auth = bearer(client, "johndoe", "secret")
        decode(client.get("/rollout-token", headers=auth).json()["token"], "johndoe")
        assert client.get("/rollout-token").status_code == 401
        # The way to log a test user in: override the dependency, as for any other.
        example.app.dependency_overrides[example.current_user_id] = lambda: "tester"
        decode(client.get("/rollout-token").json()["token"], "tester")
        example.app.dependency_overrides[example.current_user_id] = lambda: None
        problem(client.get("/rollout-token"), 401)


# --- In process: the protections, and the order they come in --------------------------------------


class Calls:
    """Counts the calls of the user dependency and of its sub-dependency."""

    def __init__(self) -> None:
        self.user = 0
        self.db = 0


SCHEME = OAuth2PasswordBearer(tokenUrl="token")


def counted_db(request: Request) -> Iterator[str]:
    request.app.state.calls.db += 1
    yield "db"


def counted_user_id(
    request: Request,
    token: Annotated[str, Depends(SCHEME)],
    db: Annotated[str, Depends(counted_db)],
) -> str:
    request.app.state.calls.user += 1
    return token


def counting_app(calls: Calls, **options: Any) -> FastAPI:
    app = FastAPI()
    app.state.calls = calls
    app.include_router(
        rollout_token_router(counted_user_id, issuer=TokenIssuer(CLIENT_ID, SECRET), **options)
    )
    return app


@pytest.mark.parametrize(
    ("options", "method", "headers", "status_code"),
    [
        ({}, "GET", {"Sec-Fetch-Site": "cross-site"}, 403),
        ({}, "HEAD", {"Sec-Fetch-Site": "cross-site"}, 403),
        ({"allowed_origins": [ORIGIN]}, "GET", {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403),
        ({}, "POST", {}, 405),
        ({}, "DELETE", {}, 405),
        ({}, "OPTIONS", {}, 405),
        ({"allowed_origins": [ORIGIN]}, "OPTIONS", {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}, 204),
        ({"methods": ["POST"], "max_body_size": 4}, "POST", {"Content-Type": "application/json"}, 413),
    ],
    ids=["cross-site", "cross-site-head", "refused-origin", "post", "delete", "options", "preflight", "too-large"],
)  # fmt: skip
def test_early_answers_come_before_the_dependency_runs(
    options: dict[str, Any], method: str, headers: dict[str, str], status_code: int
) -> None:
    calls = Calls()
    with TestClient(counting_app(calls, **options)) as client:
        response = client.request(
            method,
            "/rollout-token",
            headers={"Authorization": "Bearer alice", **headers},
            content=b'{"padding": true}' if method == "POST" else None,
        )
    assert response.status_code == status_code
    assert response.headers["cache-control"] == "no-store"
    assert (calls.user, calls.db) == (0, 0)


def test_the_dependency_runs_for_a_same_site_request() -> None:
    calls = Calls()
    with TestClient(counting_app(calls)) as client:
        response = client.get(
            "/rollout-token",
            headers={"Authorization": "Bearer alice", "Sec-Fetch-Site": "same-origin"},
        )
    decode(response.json()["token"], "alice")
    assert (calls.user, calls.db) == (1, 1)


def test_head_and_405() -> None:
    calls = Calls()
    with TestClient(counting_app(calls)) as client:
        get = client.get("/rollout-token", headers={"Authorization": "Bearer alice"})
        head = client.head("/rollout-token", headers={"Authorization": "Bearer alice"})
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"):
            refused = client.request(method, "/rollout-token")
            problem(refused, 405)
            assert refused.headers["allow"] == "GET, HEAD"
        # A method HTTP does not define gets FastAPI's own 405.
        assert client.request("PROPFIND", "/rollout-token").status_code == 405
        anonymous_head = client.head("/rollout-token")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert {k: head.headers[k] for k in TOKEN_HEADERS} == TOKEN_HEADERS
    assert anonymous_head.status_code == 401  # OAuth2PasswordBearer's, for HEAD too
    assert anonymous_head.content == b""


def test_trailing_slash_is_fastapis_redirect() -> None:
    """FastAPI's ``redirect_slashes`` sends ``/rollout-token/`` to the token path, as for any
    route; nothing below the path is served."""
    with TestClient(counting_app(Calls())) as client:
        slash = client.get("/rollout-token/", follow_redirects=False)
        assert slash.status_code == 307
        assert slash.headers["location"] == "http://testserver/rollout-token"
        assert (
            client.get("/rollout-token/x", headers={"Authorization": "Bearer a"}).status_code == 404
        )


# --- Sync and async dependencies, Depends and Security ---------------------------------------------


def sync_user_id(x_user: Annotated[str | None, Header()] = None) -> str | None:
    return x_user


async def async_user_id(request: Request) -> str | None:
    return request.headers.get("x-user")


def generator_user_id(x_user: Annotated[str | None, Header()] = None) -> Iterator[str | None]:
    yield x_user


async def async_generator_user_id(request: Request) -> AsyncIterator[str | None]:
    yield request.headers.get("x-user")


class CallableUserId:
    """A class-based dependency, as FastAPI's own security classes are."""

    async def __call__(self, request: Request) -> int | None:
        value = request.headers.get("x-user")
        return None if value is None else int(value)


@pytest.mark.parametrize(
    ("user_id", "value", "sub"),
    [
        (sync_user_id, "alice", "alice"),
        (async_user_id, "alice", "alice"),
        (generator_user_id, "alice", "alice"),
        (async_generator_user_id, "alice", "alice"),
        (CallableUserId(), "42", "42"),
        (Depends(sync_user_id), "bob", "bob"),
    ],
    ids=["sync", "async", "generator", "async-generator", "callable-object", "Depends"],
)
def test_sync_and_async_dependencies(user_id: Any, value: str, sub: str) -> None:
    app = FastAPI()
    app.include_router(rollout_token_router(user_id, client_id=CLIENT_ID, client_secret=SECRET))
    with TestClient(app) as client:
        decode(client.get("/rollout-token", headers={"x-user": value}).json()["token"], sub)
        problem(client.get("/rollout-token"), 401)


SCOPED_SCHEME = OAuth2PasswordBearer(tokenUrl="token", scopes={"rollout": "Use Rollout"})


def scoped_user_id(
    request: Request, scopes: SecurityScopes, token: Annotated[str, Depends(SCOPED_SCHEME)]
) -> str:
    request.app.state.seen.append(scopes.scopes)
    return token


def test_security_scopes_reach_the_schema_and_the_dependency() -> None:
    seen: list[list[str]] = []
    app = FastAPI()
    app.state.seen = seen
    app.include_router(
        rollout_token_router(
            Security(scoped_user_id, scopes=["rollout"]),
            client_id=CLIENT_ID,
            client_secret=SECRET,
        )
    )
    with TestClient(app) as client:
        token = client.get("/rollout-token", headers={"Authorization": "Bearer carol"})
        schema = client.get("/openapi.json").json()
    decode(token.json()["token"], "carol")
    assert seen == [["rollout"]]
    check_openapi(schema, "/rollout-token", "get", {"OAuth2PasswordBearer": ["rollout"]})


# --- Where the path lives: prefix, root_path, url_for ----------------------------------------------


def test_prefix_and_url_for() -> None:
    app = FastAPI()
    issued: list[Any] = []
    router = rollout_token_router(
        sync_user_id, issuer=TokenIssuer(CLIENT_ID, SECRET), on_issue=lambda *a: issued.append(a)
    )
    app.include_router(router, prefix="/api/v1", tags=["rollout"])
    assert app.url_path_for("rollout_token") == "/api/v1/rollout-token"
    with TestClient(app) as client:
        decode(
            client.get("/api/v1/rollout-token", headers={"x-user": "dan"}).json()["token"], "dan"
        )
        problem(client.post("/api/v1/rollout-token"), 405)
        assert client.get("/rollout-token", headers={"x-user": "dan"}).status_code == 404
        operation = client.get("/openapi.json").json()["paths"]["/api/v1/rollout-token"]["get"]
    assert operation["tags"] == ["rollout"]
    assert issued[0][2]["path"] == "/api/v1/rollout-token"


def test_custom_path_and_a_router_in_a_router() -> None:
    outer = APIRouter(prefix="/outer")
    outer.include_router(
        rollout_token_router(sync_user_id, path="/token", client_id=CLIENT_ID, client_secret=SECRET)
    )
    app = FastAPI()
    app.include_router(outer)
    with TestClient(app) as client:
        decode(client.get("/outer/token", headers={"x-user": "eve"}).json()["token"], "eve")
        problem(client.put("/outer/token"), 405)


def test_app_mounted_under_a_root_path() -> None:
    """A FastAPI app mounted at ``/app`` (``root_path="/app"``): the fetch path is
    ``/app/rollout-token``, and ``on_issue`` sees the full path."""
    issued: list[Any] = []
    sub = FastAPI()
    sub.include_router(
        rollout_token_router(
            async_user_id,
            issuer=TokenIssuer(CLIENT_ID, SECRET),
            on_issue=lambda *args: issued.append(args),
        )
    )
    parent = FastAPI()
    parent.mount("/app", sub)
    with TestClient(parent) as client:
        response = client.get("/app/rollout-token", headers={"x-user": "frank"})
        decode(response.json()["token"], "frank")
        problem(client.get("/app/rollout-token"), 401)
        assert client.get("/rollout-token", headers={"x-user": "frank"}).status_code == 404
        assert client.get("/app/openapi.json").json()["servers"] == [{"url": "/app"}]
    assert issued[0][0] == "frank"
    assert issued[0][2]["path"] == "/app/rollout-token"


# --- What the dependency raises or returns -------------------------------------------------------


class AccountLocked(Exception):
    pass


def raising_app(exc: Exception | None = None, value: Any = None, **options: Any) -> FastAPI:
    def current_user_id() -> Any:
        if exc is not None:
            raise exc
        return value

    app = FastAPI()

    @app.exception_handler(AccountLocked)
    async def locked(request: Request, exc: AccountLocked) -> JSONResponse:
        return JSONResponse({"error": "locked"}, status_code=423)

    app.include_router(
        rollout_token_router(current_user_id, issuer=TokenIssuer(CLIENT_ID, SECRET), **options)
    )
    return app


def test_an_http_exception_is_rendered_by_fastapi() -> None:
    exc = HTTPException(
        status.HTTP_401_UNAUTHORIZED, "expired", headers={"WWW-Authenticate": "Bearer"}
    )
    with TestClient(raising_app(exc)) as client:
        response = client.get("/rollout-token")
    assert response.status_code == 401
    assert response.json() == {"detail": "expired"}
    assert response.headers["www-authenticate"] == "Bearer"
    assert "access-control-allow-origin" not in response.headers


def test_an_exception_with_an_app_handler_reaches_it() -> None:
    with TestClient(raising_app(AccountLocked())) as client:
        response = client.get("/rollout-token")
    assert response.status_code == 423
    assert response.json() == {"error": "locked"}


def test_a_validation_error_of_the_dependency_is_fastapis_422() -> None:
    def current_user_id(x_user: Annotated[str, Header()]) -> str:
        return x_user

    app = FastAPI()
    app.include_router(
        rollout_token_router(current_user_id, client_id=CLIENT_ID, client_secret=SECRET)
    )
    with TestClient(app) as client:
        response = client.get("/rollout-token")
        schema = client.get("/openapi.json").json()
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "x-user"]
    assert "422" in schema["paths"]["/rollout-token"]["get"]["responses"]


def test_any_other_exception_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rollout_middleware")
    with TestClient(raising_app(RuntimeError("database password is hunter2"))) as client:
        response = client.get("/rollout-token")
    body = problem(response, 500)
    assert "hunter2" not in response.text
    assert body["detail"] == "The Rollout token could not be issued."
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors
    assert errors[0].exc_info is not None
    assert SECRET not in caplog.text


@pytest.mark.parametrize("value", [1.5, "", " ", b"alice", ["alice"], True, "x" * 300])
def test_not_a_user_id_is_a_logged_500(value: Any, caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(raising_app(value=value)) as client:
        response = client.get("/rollout-token")
    problem(response, 500)
    assert "alice" not in response.text
    assert any(r.levelno >= logging.ERROR for r in caplog.records)
    assert SECRET not in caplog.text


# --- CORS and on_issue -----------------------------------------------------------------------------


def test_cors_for_allowed_origins() -> None:
    calls = Calls()
    with TestClient(counting_app(calls, allowed_origins=[ORIGIN])) as client:
        preflight = client.options(
            "/rollout-token",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        cross = {"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"}
        token = client.get("/rollout-token", headers={**cross, "Authorization": "Bearer gus"})
        anonymous = client.get("/rollout-token", headers=cross)  # OAuth2PasswordBearer's 401
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert preflight.headers["access-control-allow-headers"] == "authorization"
    assert preflight.headers["access-control-allow-methods"] == "GET"
    decode(token.json()["token"], "gus")
    for response in (token, anonymous):
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["vary"] == "Origin"
    # FastAPI rendered the 401, and the front end on the allowed origin can read it.
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Not authenticated"}


def test_cors_headers_on_an_app_handlers_answer() -> None:
    with TestClient(raising_app(AccountLocked(), allowed_origins=[ORIGIN])) as client:
        allowed = client.get("/rollout-token", headers={"Origin": ORIGIN})
        other = client.get("/rollout-token", headers={"Origin": "https://other.example"})
    assert allowed.status_code == other.status_code == 423
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert allowed.headers["vary"] == "Origin"
    assert "access-control-allow-origin" not in other.headers


def test_cors_headers_on_a_sync_status_handlers_answer() -> None:
    exc = HTTPException(status.HTTP_401_UNAUTHORIZED, "expired")
    app = raising_app(exc, allowed_origins=[ORIGIN])

    @app.exception_handler(401)
    def unauthorized(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"login": "/login"}, status_code=401, headers={"Vary": "Cookie"})

    with TestClient(app) as client:
        response = client.get("/rollout-token", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.json() == {"login": "/login"}
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["vary"] == "Cookie, Origin"


def test_a_client_gone_while_sending_the_body() -> None:
    """A client that disconnects before its body is complete gets nothing, and nothing fails."""
    calls = Calls()
    app = counting_app(calls, methods=("POST",))
    incoming = [
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/rollout-token",
        "raw_path": b"/rollout-token",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert (calls.user, calls.db) == (0, 0)
    assert sent[0]["status"] == 400


@pytest.mark.parametrize("is_async", [False, True], ids=["sync-hook", "async-hook"])
def test_on_issue(is_async: bool) -> None:
    issued: list[tuple[Any, ...]] = []

    def hook(user_id: str, expires_at: int, info: dict[str, Any]) -> None:
        issued.append((user_id, expires_at, info))

    async def async_hook(user_id: str, expires_at: int, info: dict[str, Any]) -> None:
        hook(user_id, expires_at, info)

    app = FastAPI()
    app.include_router(
        rollout_token_router(
            sync_user_id,
            issuer=TokenIssuer(CLIENT_ID, SECRET),
            on_issue=async_hook if is_async else hook,
        )
    )
    with TestClient(app) as client:
        body = client.get("/rollout-token", headers={"x-user": "hank"}).json()
        client.head("/rollout-token", headers={"x-user": "hank"})  # delivers no token
        client.get("/rollout-token")  # 401: no token
    assert issued == [
        (
            "hank",
            body["expires_at"],
            {"method": "GET", "path": "/rollout-token", "client": "testclient"},
        )
    ]


def test_a_failing_hook_is_logged_and_the_token_served(caplog: pytest.LogCaptureFixture) -> None:
    def hook(*args: Any) -> None:
        raise RuntimeError("audit log down")

    app = FastAPI()
    app.include_router(
        rollout_token_router(sync_user_id, issuer=TokenIssuer(CLIENT_ID, SECRET), on_issue=hook)
    )
    with TestClient(app) as client:
        decode(client.get("/rollout-token", headers={"x-user": "ida"}).json()["token"], "ida")
    assert "on_issue hook raised" in caplog.text


# --- POST, bodies and max_body_size ----------------------------------------------------------------


def test_post_configuration_and_bodies() -> None:
    """``methods=("POST",)``: the body is read up to ``max_body_size`` before the dependency
    runs, and the dependency can still read it."""

    async def current_user_id(request: Request) -> str:
        return str((await request.json())["user"])

    def body_user_id(payload: Annotated[dict[str, str], Body()]) -> str:
        return payload["user"]

    for user_id in (current_user_id, body_user_id):
        app = FastAPI()
        app.include_router(
            rollout_token_router(
                user_id,
                issuer=TokenIssuer(CLIENT_ID, SECRET),
                methods=("POST",),
                max_body_size=64,
            )
        )
        with TestClient(app) as client:
            posted = client.post("/rollout-token", json={"user": "jo"})
            decode(posted.json()["token"], "jo")

            def chunks(size: int) -> Iterator[bytes]:
                yield b'{"user": "jo", "padding": "'
                yield b"x" * size
                yield b'"}'

            chunked = client.post(
                "/rollout-token",
                content=chunks(10),
                headers={"Content-Type": "application/json"},
            )
            decode(chunked.json()["token"], "jo")
            problem(client.post("/rollout-token", content=chunks(100)), 413)
            problem(client.post("/rollout-token", json={"user": "jo", "padding": "x" * 100}), 413)
            refused = client.get("/rollout-token")
            problem(refused, 405)
            assert refused.headers["allow"] == "POST"
            head = client.head("/rollout-token")
            assert (head.status_code, head.headers["allow"], head.content) == (405, "POST", b"")
            schema = client.get("/openapi.json").json()
        assert list(schema["paths"]["/rollout-token"]) == ["post"]


# --- Bad setup, refused when the router is built ---------------------------------------------------


def resolve_user(scope: Any) -> str:  # what RolloutTokenMiddleware takes, not a dependency
    return "x"


def unannotated(request):  # type: ignore[no-untyped-def]
    return "x"


def from_the_query(user: str) -> str:
    return user


class Unsupported:
    pass


def unsupported(value: Annotated[Unsupported, Header()]) -> str:
    return "x"


@pytest.mark.parametrize(
    ("user_id", "message"),
    [
        (None, "user_id must be a FastAPI dependency"),
        ("alice", "user_id must be a FastAPI dependency"),
        (OAuth2PasswordBearer(tokenUrl="token"), "user_id OAuth2PasswordBearer is a security scheme"),
        (HTTPBearer(), "user_id HTTPBearer is a security scheme"),
        (Security(HTTPBearer()), "is a security scheme"),
        (Depends(), "Depends() without a dependency"),
        (resolve_user, "user_id resolve_user: FastAPI would fill its parameter 'scope'"),
        (unannotated, "Annotate it: request: Request"),
        (from_the_query, "parameter 'user' from the query string"),
        (lambda environ: None, "looks like a resolve_user for RolloutTokenMiddleware"),
        (unsupported, "user_id unsupported: FastAPI cannot use it as a dependency"),
        (str, "user_id str: FastAPI cannot use it as a dependency"),
    ],
    ids=[
        "none", "str", "oauth2-scheme", "http-bearer", "security-scheme-in-Security",
        "empty-Depends", "resolver", "unannotated-request", "query-param", "lambda-environ",
        "fastapi-refuses", "no-signature",
    ],
)  # fmt: skip
def test_a_wrong_user_id_is_refused_when_built(user_id: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rollout_token_router(user_id, client_id=CLIENT_ID, client_secret=SECRET)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"resolve_user": sync_user_id}, TypeError, r"rollout_token_router\(\) got an unexpected keyword argument 'resolve_user': the user comes from user_id"),
        ({"resolver_timeout": 5}, TypeError, r"rollout_token_router\(\) .* 'resolver_timeout'"),
        ({"thread_sensitive": True}, TypeError, "'thread_sensitive'"),
        ({"allowed_origin": [ORIGIN]}, TypeError, r"rollout_token_router\(\) .* 'allowed_origin'; did you mean 'allowed_origins'"),
        ({"ttl": 0}, ConfigurationError, "ttl"),
        ({"methods": ["OPTIONS"]}, ConfigurationError, "OPTIONS cannot serve tokens"),
        ({"allowed_origins": "https://app.example.com"}, ConfigurationError, "allowed_origins"),
        ({"max_body_size": -1}, ConfigurationError, "max_body_size"),
        ({"on_issue": "audit"}, ConfigurationError, "on_issue"),
        ({"path": "rollout-token"}, ConfigurationError, "path must be a str that starts with '/'"),
        ({"client_secret": 12, "client_id": None}, ConfigurationError, "client secret must be"),
    ],
)  # fmt: skip
def test_wrong_options_are_refused_when_built(
    options: dict[str, Any], error: type[Exception], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    kwargs: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": SECRET, **options}
    with pytest.raises(error, match=message):
        rollout_token_router(sync_user_id, **kwargs)


def test_an_annotation_fastapi_cannot_resolve_is_refused() -> None:
    """With ``from __future__ import annotations`` (as here), FastAPI resolves annotations in the
    module's globals: a dependency defined in a function, naming its neighbours, would silently
    read them from the query string."""
    local_scheme = OAuth2PasswordBearer(tokenUrl="token")

    def current_user_id(token: Annotated[str, Depends(local_scheme)]) -> str:
        return token

    with pytest.raises(
        ConfigurationError, match="define the dependency, and what it names, at module level"
    ):
        rollout_token_router(current_user_id, client_id=CLIENT_ID, client_secret=SECRET)


def test_explicit_declarations_are_accepted() -> None:
    """Parameters the app declares (Header, Cookie, an explicit Query, Request, SecurityScopes,
    BackgroundTasks) are fine: only what FastAPI would take from the client unasked is refused."""

    def current_user_id(
        request: Annotated[Request, "the request, with a note"],
        scopes: SecurityScopes,
        tasks: BackgroundTasks,
        session: Annotated[str | None, Cookie()] = None,
        ticket: str | None = Query(None),
    ) -> str | None:
        return ticket

    app = FastAPI()
    app.include_router(
        rollout_token_router(current_user_id, client_id=CLIENT_ID, client_secret=SECRET)
    )
    with TestClient(app) as client:
        decode(client.get("/rollout-token", params={"ticket": "kim"}).json()["token"], "kim")


def test_rollout_token_model() -> None:
    assert RolloutToken(token="t", expires_at=1, expires_in=2).model_dump() == {
        "token": "t",
        "expires_at": 1,
        "expires_in": 2,
    }


def test_a_method_outside_the_schema_serves_tokens() -> None:
    """A configured method OpenAPI has no operation for (``PURGE``) is served, out of the schema."""
    app = FastAPI()
    app.include_router(
        rollout_token_router(sync_user_id, methods=["PURGE"], issuer=TokenIssuer(CLIENT_ID, SECRET))
    )
    with TestClient(app) as client:
        decode(
            client.request("PURGE", "/rollout-token", headers={"x-user": "liv"}).json()["token"],
            "liv",
        )
        refused = client.get("/rollout-token")
        assert refused.headers["allow"] == "PURGE"
        problem(refused, 405)
        assert "/rollout-token" not in client.get("/openapi.json").json()["paths"]


# --- a user_id annotated to return what is not a user id ------------------------------------------


class Member(BaseModel):  # a pydantic (or SQLModel) User is judged as any class
    id: str = "ada"


def member() -> Member:
    return Member()


async def async_member() -> Member:
    return Member()


def member_or_none() -> Member | None:
    return None


def flag() -> bool:
    return True


class MemberGetter:
    def __call__(self) -> Member:
        return Member()


def member_id() -> str:
    return Member.id


def member_uuid() -> uuid.UUID | None:
    return None


def no_one() -> None:
    return None


def anything() -> Any:
    return "ada"


def unannotated():  # type: ignore[no-untyped-def]
    return "ada"


def member_ids() -> Iterator[str]:
    yield "ada"


def member_email() -> EmailStr:  # pydantic's marker class: its values are str
    return "ada@example.com"


async def member_id_generator() -> AsyncIterator:  # type: ignore[type-arg]
    yield "ada"


def ids_of(dependency: Any) -> Any:
    """A decorator that makes a ``User`` dependency give its id (``wraps`` keeps ``-> Member``)."""

    @functools.wraps(dependency)
    def wrapper() -> Any:
        return dependency().id

    return wrapper


@pytest.mark.parametrize(
    "user_id",
    [
        member,
        async_member,
        member_or_none,
        flag,
        MemberGetter(),
        Depends(member),
        Security(member, scopes=["rollout"]),
    ],
    ids=["user", "async", "optional", "bool", "callable-object", "Depends", "Security"],
)
def test_a_dependency_annotated_to_return_the_user_is_refused(user_id: Any) -> None:
    """mypy catches a plain function; ``Depends(member)`` hides the type from it, so the router
    reads the annotation when the app is built, instead of a 500 at every token request."""
    with pytest.raises(ConfigurationError, match="not a user id: return the user's id") as caught:
        rollout_token_router(user_id, client_id=CLIENT_ID, client_secret=SECRET)
    assert caught.value.option == "user_id"


@pytest.mark.parametrize(
    "user_id",
    [
        member_id,
        member_uuid,
        no_one,
        anything,
        unannotated,
        member_ids,
        member_email,
        member_id_generator,
        ids_of(member),
    ],
)
def test_a_dependency_annotated_with_a_user_id_or_nothing_to_judge_is_taken(user_id: Any) -> None:
    rollout_token_router(user_id, client_id=CLIENT_ID, client_secret=SECRET)


def test_a_refused_partial_is_named_without_its_arguments() -> None:
    def member_with(key: str) -> Member:
        return Member()

    with pytest.raises(ConfigurationError) as caught:
        rollout_token_router(functools.partial(member_with, key="s3cr3t"))
    assert "member_with" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
