"""Tornado: :func:`rollout_middleware.contrib.tornado.rollout_token_handler` on a base handler whose
``get_current_user`` reads the ``x-user`` header, under Tornado's own HTTPServer on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import tornado.web

from rollout_middleware.contrib.tornado import rollout_token_handler

from ..loop_servers import tornado_server
from . import Adapter, register, user_from_header


def _deny() -> Any:
    raise tornado.web.HTTPError(401)


class HeaderUserHandler(tornado.web.RequestHandler):
    def get_current_user(self) -> Any:
        return user_from_header(self.request.headers.get("x-user"), _deny)


@contextlib.contextmanager
def tornado_app(**options: Any) -> Iterator[httpx.Client]:
    handler = rollout_token_handler(HeaderUserHandler, **options)

    def make_app() -> tornado.web.Application:
        return tornado.web.Application([(r"/rollout-token", handler)])

    with tornado_server(make_app) as url, httpx.Client(base_url=url) as client:
        yield client


register(Adapter("tornado", tornado_app))
