"""rollout_middleware.contrib.quart: Quart's session and quart-auth decide the user; the resolver runs
in the request context, after the app's before_request hooks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from starlette.testclient import TestClient

from rollout_middleware import ConfigurationError

from ..support import CLIENT_ID, SECRET, absent, verify_token

try:
    from quart import Quart, abort, g, session
    from quart_auth import AuthUser, QuartAuth, current_user, login_user

    from rollout_middleware.contrib.quart import RolloutToken
except ImportError as exc:
    if not absent(exc):
        raise
    pytest.skip(f"this run has no Quart ({exc})", allow_module_level=True)

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": SECRET}

calls: list[str] = []


def sync_user() -> Any:
    calls.append("sync")
    if session.get("user_id") == "abort":
        abort(403)
    return session.get("user_id")


async def async_user() -> Any:
    calls.append("async")
    return session.get("user_id")


def make_app(resolve_user: Callable[[], Any] = async_user, **options: Any) -> Quart:
    app = Quart(__name__)
    app.secret_key = "k" * 32

    @app.post("/login/<user>")
    async def login(user: str) -> str:
        session["user_id"] = user
        return "ok"

    @app.get("/hello")
    async def hello() -> str:
        return "hello"

    RolloutToken(app, resolve_user=resolve_user, **options)
    return app


@pytest.fixture(params=[sync_user, async_user], ids=["sync", "async"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    calls.clear()
    with TestClient(make_app(request.param, **CREDENTIALS)) as client:
        yield client


def test_the_session_user_gets_a_token(client: TestClient) -> None:
    assert client.get("/rollout-token").status_code == 401
    client.post("/login/ada")
    response = client.get("/rollout-token")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert verify_token(response.json()["token"])["sub"] == "ada"
    assert len(calls) == 2


def test_nobody_is_401(client: TestClient) -> None:
    response = client.get("/rollout-token")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_cross_site_is_403_without_the_resolver(client: TestClient) -> None:
    client.post("/login/ada")
    response = client.get("/rollout-token", headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert client.post("/rollout-token").status_code == 405
    assert calls == []


def test_abort_in_the_resolver_is_quarts_answer() -> None:
    with TestClient(make_app(sync_user, **CREDENTIALS)) as client:
        client.post("/login/abort")
        response = client.get("/rollout-token")
    assert response.status_code == 403
    assert response.headers["content-type"] == "text/html; charset=utf-8"  # Quart's error page


def test_head_and_the_other_routes(client: TestClient) -> None:
    client.post("/login/ada")
    head, got = client.head("/rollout-token"), client.get("/rollout-token")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert client.get("/hello").text == "hello"


def test_no_credentials_the_app_builds_and_the_token_is_503(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("ROLLOUT_CLIENT_ID", raising=False)
    monkeypatch.delenv("ROLLOUT_CLIENT_SECRET", raising=False)
    with TestClient(make_app()) as client:
        assert client.get("/hello").text == "hello"
        client.post("/login/ada")
        assert client.get("/rollout-token").status_code == 503
    assert "ROLLOUT_CLIENT_ID" in caplog.text


def test_quart_auth_current_user_and_before_request_hooks() -> None:
    app = Quart(__name__)
    app.secret_key = "k" * 32
    QuartAuth(app)

    @app.before_request
    async def load_user() -> None:
        g.user_id = current_user.auth_id if await current_user.is_authenticated else None

    @app.post("/login/<user>")
    async def login(user: str) -> str:
        login_user(AuthUser(user))
        return "ok"

    RolloutToken(app, resolve_user=lambda: g.user_id, **CREDENTIALS)
    with TestClient(app, base_url="https://testserver") as client:  # quart-auth: Secure cookie
        assert client.get("/rollout-token").status_code == 401
        client.post("/login/ada")
        assert verify_token(client.get("/rollout-token").json()["token"])["sub"] == "ada"


def test_settings_keywords_then_app_config_then_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", "from-env")
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("ROLLOUT_TOKEN_TTL", "60")
    app = Quart(__name__)
    app.config.update(ROLLOUT_CLIENT_ID=CLIENT_ID, ROLLOUT_TOKEN_PATH="/auth/token")
    app.secret_key = "k" * 32
    RolloutToken(app, resolve_user=lambda: "ada", ttl=120)
    with TestClient(app) as client:
        token = client.get("/auth/token").json()["token"]
    assert verify_token(token, ttl=120)["iss"] == CLIENT_ID


def test_init_app_in_a_factory_and_errors() -> None:
    rollout = RolloutToken(resolve_user=lambda: "ada", **CREDENTIALS)
    app = Quart(__name__)
    rollout.init_app(app)
    assert app.extensions["rollout_token"] is rollout
    with pytest.raises(ConfigurationError, match="already serves"):
        rollout.init_app(app)
    with pytest.raises(ConfigurationError, match=r"contrib\.flask"):
        rollout.init_app(Flask(__name__))  # type: ignore[arg-type]
    bad = Quart(__name__)
    bad.config["ROLLOUT_TOKEN_TTL"] = "soon"
    with pytest.raises(ConfigurationError, match="ROLLOUT_TOKEN_TTL"):
        rollout.init_app(bad)
    with pytest.raises(ConfigurationError, match="no arguments"):
        RolloutToken(resolve_user=lambda scope: None)
    with pytest.raises(TypeError, match="did you mean 'ttl'"):
        RolloutToken(resolve_user=lambda: None, ttl_seconds=60)  # type: ignore[call-arg]
    taken = Quart(__name__)
    taken.add_url_rule("/rollout-token", "mine", lambda: "mine")
    with pytest.raises(ConfigurationError, match="already has a route"):
        RolloutToken(taken, resolve_user=lambda: None)


def test_a_slow_async_resolver_is_503() -> None:
    async def slow() -> str:
        await asyncio.sleep(5)
        return "ada"

    with TestClient(make_app(slow, resolver_timeout=0.05, **CREDENTIALS)) as client:
        assert client.get("/rollout-token").status_code == 503


def test_request_body_counted() -> None:
    app = make_app(sync_user, methods=["POST"], max_body_size=8, **CREDENTIALS)
    with TestClient(app) as client:
        client.post("/login/ada")
        assert client.post("/rollout-token", content=b"x" * 9).status_code == 413
        assert client.post("/rollout-token", content=iter([b"0123", b"45678"])).status_code == 413
        assert client.post("/rollout-token", content=b"{}").status_code == 200


def test_without_allowed_origins_the_app_gets_no_after_request_hook() -> None:
    app = Quart(__name__)
    RolloutToken(app, resolve_user=lambda: None, **CREDENTIALS)
    assert app.after_request_funcs.get(None, []) == []
    other = Quart(__name__)
    RolloutToken(other, resolve_user=lambda: None, allowed_origins=("https://app.example.com",))
    assert len(other.after_request_funcs[None]) == 1
