"""Litestar: :class:`~rollout_middleware.contrib.litestar.RolloutTokenPlugin`, the user from a
Litestar dependency reading the ``x-user`` header, under Litestar's own ``TestClient``.

Two adapters: an async dependency reading the ``Request``, and a sync one, run in a worker thread
(``Provide(..., sync_to_thread=True)``). Not Litestar's reserved ``headers`` kwarg: 2.13 wants it
typed ``dict[str, str]``, and newer Litestars deprecate that for ``Headers``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.testing import TestClient

from rollout_middleware.contrib.litestar import RolloutTokenPlugin

from . import Adapter, register, user_from_header


def _deny() -> Any:
    raise NotAuthorizedException("denied by Litestar")


async def request_user_id(request: Request[Any, Any, Any]) -> Any:
    return user_from_header(request.headers.get("x-user"), _deny)


def sync_request_user_id(request: Request[Any, Any, Any]) -> Any:
    return user_from_header(request.headers.get("x-user"), _deny)


def _factory(user_id: Any) -> Callable[..., contextlib.AbstractContextManager[Any]]:
    @contextlib.contextmanager
    def litestar_plugin(**options: Any) -> Iterator[Any]:
        # No logging_config: Litestar would configure the root logger, away from pytest's capture.
        app = Litestar(plugins=[RolloutTokenPlugin(user_id, **options)], logging_config=None)
        with TestClient(app) as client:
            yield client

    return litestar_plugin


register(Adapter("litestar", _factory(request_user_id)))
register(Adapter("litestar-sync", _factory(Provide(sync_request_user_id, sync_to_thread=True))))
