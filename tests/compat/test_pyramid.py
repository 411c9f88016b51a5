"""Pyramid: the endpoint as a view (``pyramid.wsgi.wsgiapp``), or the whole app wrapped."""

from __future__ import annotations

import warnings

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

with warnings.catch_warnings():
    # Importing Pyramid warns on current Pythons and setuptools, none of it about this package:
    # WebOb imports the stdlib cgi module, and Pyramid imports pkg_resources.
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
    require_module("pyramid")
    from tests.compat.apps import pyramid_app


@pytest.mark.parametrize("factory", [pyramid_app.create_app, pyramid_app.create_wrapped_app])
def test_in_process(factory: object) -> None:
    with wsgi_client(factory(**CREDENTIALS)) as client:  # type: ignore[operator]
        check_stack(client, hello=pyramid_app.HELLO)
        check_framework(client, lifespan=False)


@pytest.mark.server
def test_under_waitress() -> None:
    require_module("waitress")
    port = free_port()
    argv = ["waitress", f"--listen=127.0.0.1:{port}"]
    with serve("pyramid_app:app", argv, port) as url, httpx.Client(base_url=url) as client:
        check_stack(client, hello=pyramid_app.HELLO)
        check_framework(client, lifespan=False)
