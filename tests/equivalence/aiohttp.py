"""aiohttp: :func:`rollout_middleware.contrib.aiohttp.setup`, the user read by ``resolve_user`` from
the aiohttp request's headers, under aiohttp's own server on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
from aiohttp import web

from rollout_middleware.contrib import aiohttp as rollout_aiohttp

from ..loop_servers import aiohttp_server
from . import Adapter, register, user_from_header


def _deny() -> Any:
    raise web.HTTPUnauthorized(text="denied by aiohttp")


async def user_of_request(request: web.Request) -> Any:
    return user_from_header(request.headers.get("x-user"), _deny)


@contextlib.contextmanager
def aiohttp_app(**options: Any) -> Iterator[httpx.Client]:
    def make_app() -> web.Application:
        app = web.Application()
        rollout_aiohttp.setup(app, resolve_user=user_of_request, **options)
        return app

    with aiohttp_server(make_app) as url, httpx.Client(base_url=url) as client:
        yield client


register(Adapter("aiohttp", aiohttp_app))
