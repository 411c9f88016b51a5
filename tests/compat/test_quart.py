"""Quart: the ``RolloutToken`` extension (recommended), or ``app.asgi_app`` wrapped."""

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

require_module("quart")

from tests.compat.apps import quart_app  # noqa: E402


@pytest.mark.parametrize("factory", [quart_app.create_app, quart_app.create_wrapped_app])
def test_in_process(factory: object) -> None:
    with asgi_client(factory(**CREDENTIALS)) as client:  # type: ignore[operator]
        check_stack(client, hello=quart_app.HELLO)
        check_framework(client, lifespan=True)


@pytest.mark.server
def test_under_hypercorn() -> None:
    require_module("hypercorn")
    port = free_port()
    argv = ["hypercorn", "--bind", f"127.0.0.1:{port}"]
    with serve("quart_app:app", argv, port) as url, httpx.Client(base_url=url) as client:
        check_stack(client, hello=quart_app.HELLO)
        check_framework(client, lifespan=True)
