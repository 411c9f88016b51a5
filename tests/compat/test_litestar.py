"""Litestar: the endpoint as an ``@asgi`` route handler (recommended), or the app wrapped."""

from __future__ import annotations

import httpx
import pytest

from tests.compat.helpers import (
    CREDENTIALS,
    asgi_client,
    check_framework,
    check_stack,
    free_port,
    require_module,
    serve,
)

require_module("litestar")

from tests.compat.apps import litestar_app  # noqa: E402


@pytest.mark.parametrize("factory", [litestar_app.create_app, litestar_app.create_wrapped_app])
def test_in_process(factory: object) -> None:
    with asgi_client(factory(**CREDENTIALS)) as client:  # type: ignore[operator]
        check_stack(client, hello=litestar_app.HELLO)
        check_framework(client, lifespan=True)


def test_define_middleware_sees_only_routed_paths() -> None:
    """Why the route handler is the Litestar way: its middleware runs after routing."""
    with asgi_client(litestar_app.create_define_middleware_app(**CREDENTIALS)) as client:
        assert client.get("/rollout-token", headers={"X-User": "u"}).status_code == 404
        assert client.get("/hello").text == litestar_app.HELLO


@pytest.mark.server
def test_under_uvicorn_uvloop() -> None:
    require_module("uvloop")
    port = free_port()
    argv = ["uvicorn", "--loop", "uvloop", "--http", "httptools", "--port", str(port)]
    argv += ["--host", "127.0.0.1"]
    with serve("litestar_app:app", argv, port) as url, httpx.Client(base_url=url) as client:
        check_stack(client, hello=litestar_app.HELLO)
        check_framework(client, lifespan=True)
