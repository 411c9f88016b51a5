"""Litestar: the plugin's route (recommended), or the app wrapped; and what DefineMiddleware sees."""

from __future__ import annotations

import httpx
import pytest

from tests.compat.helpers import (
    CREDENTIALS,
    asgi_client,
    check_framework,
    check_stack,
    check_token,
    free_port,
    require_module,
    serve,
)

require_module("litestar")

USER = "user-42"

from tests.compat.apps import litestar_app  # noqa: E402


@pytest.mark.parametrize("factory", [litestar_app.create_app, litestar_app.create_wrapped_app])
def test_in_process(factory: object) -> None:
    with asgi_client(factory(**CREDENTIALS)) as client:  # type: ignore[operator]
        check_stack(client, hello=litestar_app.HELLO)
        check_framework(client, lifespan=True)


def test_define_middleware_sees_only_routed_paths() -> None:
    """Why the plugin is the Litestar way: Litestar's middleware runs after routing."""
    with asgi_client(litestar_app.create_define_middleware_app(**CREDENTIALS)) as client:
        assert client.get("/rollout-token", headers={"X-User": "u"}).status_code == 404
        assert client.get("/hello").text == litestar_app.HELLO


def test_define_middleware_under_a_catch_all_route() -> None:
    """Issue 21: a front end's catch-all routes /rollout-token, so the middleware sees it, but only
    for the catch-all's methods: Litestar's router answers the others itself."""
    app = litestar_app.create_define_middleware_app(catch_all=True, **CREDENTIALS)
    with asgi_client(app) as client:
        check_token(client.get("/rollout-token", headers={"X-User": USER}))
        not_allowed = client.post("/rollout-token", headers={"X-User": USER})
        assert not_allowed.status_code == 405
        assert not_allowed.headers["content-type"] != "application/problem+json"  # Litestar's
        assert client.get("/elsewhere").text == "the front end"


def test_the_plugin_route_is_in_the_openapi_schema() -> None:
    with asgi_client(litestar_app.create_app(**CREDENTIALS)) as client:
        assert "get" in client.get("/schema/openapi.json").json()["paths"]["/rollout-token"]


@pytest.mark.server
def test_under_uvicorn_uvloop() -> None:
    require_module("uvloop")
    port = free_port()
    argv = ["uvicorn", "--loop", "uvloop", "--http", "httptools", "--port", str(port)]
    argv += ["--host", "127.0.0.1"]
    with serve("litestar_app:app", argv, port) as url, httpx.Client(base_url=url) as client:
        check_stack(client, hello=litestar_app.HELLO)
        check_framework(client, lifespan=True)
