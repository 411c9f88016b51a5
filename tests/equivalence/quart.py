"""Quart: :class:`~rollout_middleware.contrib.quart.RolloutToken`, the user read by
``resolve_user()`` from Quart's ``request`` in the request context.

Two adapters: an async resolver, and a sync one (run as Quart runs a sync view, in a worker thread
with the request context).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from quart import Quart, abort, request
from starlette.testclient import TestClient

from rollout_middleware.contrib.quart import RolloutToken

from . import Adapter, register, user_from_header


def _deny() -> Any:
    abort(401)


async def async_user() -> Any:
    return user_from_header(request.headers.get("x-user"), _deny)


def sync_user() -> Any:
    return user_from_header(request.headers.get("x-user"), _deny)


def _factory(
    resolve_user: Callable[[], Any],
) -> Callable[..., contextlib.AbstractContextManager[Any]]:
    @contextlib.contextmanager
    def quart_extension(**options: Any) -> Iterator[Any]:
        app = Quart(__name__)
        RolloutToken(app, resolve_user=resolve_user, **options)
        with TestClient(app, base_url="http://testserver") as client:
            yield client

    return quart_extension


register(Adapter("quart", _factory(async_user)))
register(Adapter("quart-sync", _factory(sync_user)))
