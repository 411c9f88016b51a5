"""The FastAPI router: the user from a FastAPI dependency reading the ``x-user`` header.

Two adapters: a sync dependency declaring the header with ``Header()`` (FastAPI runs it in its
thread pool), and an async one reading it from the ``Request``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.testclient import TestClient

from rollout_middleware.contrib.fastapi import rollout_token_router

from . import Adapter, register, user_from_header


def _deny() -> Any:
    raise HTTPException(401, "denied by FastAPI")


def header_user_id(x_user: Annotated[str | None, Header()] = None) -> Any:
    return user_from_header(x_user, _deny)


async def request_user_id(request: Request) -> Any:
    return user_from_header(request.headers.get("x-user"), _deny)


def _factory(user_id: Callable[..., Any]) -> Callable[..., contextlib.AbstractContextManager[Any]]:
    @contextlib.contextmanager
    def fastapi_router(**options: Any) -> Iterator[Any]:
        app = FastAPI()
        app.include_router(rollout_token_router(user_id, **options))
        with TestClient(app, base_url="http://testserver") as client:
            yield client

    return fastapi_router


register(Adapter("fastapi", _factory(header_user_id)))
register(Adapter("fastapi-async", _factory(request_user_id)))
