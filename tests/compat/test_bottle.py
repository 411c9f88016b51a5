"""Bottle: the Bottle app inside ``RolloutTokenWSGIMiddleware``."""

from __future__ import annotations

import httpx
import pytest

from tests.compat.helpers import (
    CREDENTIALS,
    check_framework,
    check_stack,
    free_port,
    require_module,
    serve,
    wsgi_client,
)

require_module("bottle")

from tests.compat.apps import bottle_app  # noqa: E402


def test_in_process() -> None:
    with wsgi_client(bottle_app.create_app(**CREDENTIALS)) as client:
        check_stack(client, hello=bottle_app.HELLO)
        check_framework(client, lifespan=False)


@pytest.mark.server
def test_under_granian_wsgi() -> None:
    require_module("granian")
    port = free_port()
    argv = ["granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port)]
    with serve("bottle_app:app", argv, port) as url, httpx.Client(base_url=url) as client:
        check_stack(client, hello=bottle_app.HELLO)
        check_framework(client, lifespan=False)
