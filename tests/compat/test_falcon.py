"""Falcon: ``falcon.asgi.App`` and ``falcon.App``, each wrapped by its shell's middleware."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.testclient import TestClient

from tests.compat.helpers import (
    CREDENTIALS,
    check_framework,
    check_stack,
    free_port,
    require_module,
    serve,
    wsgi_client,
)

require_module("falcon")
import falcon.testing  # noqa: E402

from tests.compat.apps import falcon_app  # noqa: E402


def test_asgi_in_process() -> None:
    app = falcon_app.create_asgi_app(**CREDENTIALS)
    # Starlette's TestClient sends a lifespan scope without "asgi": {"version": "3.0"}, which
    # Falcon refuses (it then takes the server for ASGI 2), so requests only here...
    check_stack(TestClient(app), hello=falcon_app.HELLO)
    check_framework(TestClient(app), lifespan=False)
    # ... and the lifespan through Falcon's own simulator, which runs it around each request.
    # On Python 3.10 (no asyncio.Runner) Falcon runs it on the thread's current event loop and
    # never closes it; give it one that this test closes (else a ResourceWarning fails a later test).
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        result = falcon.testing.TestClient(app).simulate_get("/lifespan")
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    assert result.json == {"started": True}


def test_wsgi_in_process() -> None:
    with wsgi_client(falcon_app.create_wsgi_app(**CREDENTIALS)) as client:
        check_stack(client, hello=falcon_app.HELLO)
        check_framework(client, lifespan=False)


@pytest.mark.server
def test_asgi_under_granian() -> None:
    require_module("granian")
    port = free_port()
    argv = ["granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port)]
    with serve("falcon_app:asgi", argv, port) as url, httpx.Client(base_url=url) as client:
        check_stack(client, hello=falcon_app.HELLO)
        check_framework(client, lifespan=True)


@pytest.mark.server
def test_wsgi_under_gunicorn_gthread() -> None:
    require_module("gunicorn")
    port = free_port()
    argv = ["gunicorn", "--worker-class", "gthread", "--threads", "2"]
    argv += ["--bind", f"127.0.0.1:{port}"]
    with serve("falcon_app:wsgi", argv, port) as url, httpx.Client(base_url=url) as client:
        check_stack(client, hello=falcon_app.HELLO)
        check_framework(client, lifespan=False)
