"""Checks shared by the compatibility tests: optional modules, and what every stack must answer."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any, Protocol
from wsgiref.validate import validator

import httpx
import pytest
from starlette.testclient import TestClient

from tests.compat.apps import TEAPOT
from tests.support import CLIENT_ID, IN_CI, SECRET, free_port, running_server, verify_token

__all__ = [
    "CREDENTIALS",
    "Client",
    "asgi_client",
    "check_framework",
    "check_stack",
    "check_token",
    "free_port",
    "require_module",
    "running_server",
    "serve",
    "wsgi_client",
]

CREDENTIALS: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": SECRET}
USER = "user-42"


class Response(Protocol):
    status_code: int
    headers: Any
    text: str

    def json(self) -> Any: ...


class Client(Protocol):
    """What both httpx.Client and Starlette's TestClient offer."""

    def get(self, url: str, **kwargs: Any) -> Any: ...

    def post(self, url: str, **kwargs: Any) -> Any: ...


def require_module(name: str, why: str = "pip install -e '.[compat]'") -> ModuleType:
    """Import ``name``; skip the test (or the whole module) without it, but fail in CI."""
    try:
        return pytest.importorskip(name, reason=f"{name} is not installed ({why})")
    except pytest.skip.Exception:
        if IN_CI:
            pytest.fail(f"{name} is not installed: CI must install the 'compat' extra")
        raise


def check_token(response: Response, user: str = USER) -> dict[str, Any]:
    """A 200 token answer for ``user``, checked independently of the package; its claims."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert int(response.headers["content-length"]) == len(response.text.encode())
    body = response.json()
    claims = verify_token(body["token"])
    assert claims["sub"] == user
    assert body["expires_at"] == claims["exp"]
    assert body["expires_in"] == 900
    return claims


def check_stack(
    client: Client, *, endpoint: str = "/rollout-token", hello: str, user: str = USER
) -> None:
    """Token, refusals and pass-through, as every stack must answer them."""
    check_token(client.get(endpoint, headers={"X-User": user}), user)
    refused = client.get(endpoint)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    not_allowed = client.post(endpoint, headers={"X-User": user})
    assert not_allowed.status_code == 405
    assert not_allowed.headers["allow"].startswith("GET")
    page = client.get("/hello", headers={"X-User": user})
    assert page.status_code == 200
    assert page.text == hello
    echoed = client.post("/echo", content=b"a body the app must still read")
    assert echoed.status_code == 200
    assert echoed.text == "a body the app must still read"


def serve(target: str, argv: list[str], port: int) -> Any:
    """``running_server`` for ``python -m SERVER ... tests.compat.apps.TARGET`` (``module:attr``)."""
    return running_server(
        [sys.executable, "-m", *argv, f"tests.compat.apps.{target}"],
        port,
        ready_path="/hello",
    )


def check_framework(client: Client, *, lifespan: bool) -> None:
    """The framework's own 404, its error handler (a 418 page), and its lifespan, still working."""
    missing = client.get("/missing")
    assert missing.status_code == 404
    assert "rollout" not in missing.text.lower()
    teapot = client.get("/teapot")
    assert teapot.status_code == 418
    assert teapot.text == TEAPOT
    if lifespan:
        assert client.get("/lifespan").json() == {"started": True}


@contextlib.contextmanager
def asgi_client(app: Any) -> Iterator[TestClient]:
    """Starlette's TestClient: any ASGI app, in process, with its lifespan run around the block."""
    with TestClient(app) as client:
        yield client


@contextlib.contextmanager
def wsgi_client(app: Any) -> Iterator[httpx.Client]:
    """An httpx client calling a WSGI app in process, under ``wsgiref.validate.validator``."""
    transport = httpx.WSGITransport(app=validator(app))
    with httpx.Client(transport=transport, base_url="http://testserver") as client:
        yield client
