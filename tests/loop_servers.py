"""aiohttp and Tornado apps under their own servers on 127.0.0.1, each on an event loop in a thread.

The test talks to them over real HTTP with httpx, from the test's own thread, as a browser would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_TIMEOUT = 30.0


@contextlib.contextmanager
def _loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="server-loop", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_TIMEOUT)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _run(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[T]]) -> T:
    async def call() -> T:
        return await make()

    return asyncio.run_coroutine_threadsafe(call(), loop).result(_TIMEOUT)


@contextlib.contextmanager
def aiohttp_server(make_app: Callable[[], Any]) -> Iterator[str]:
    """Serve the app ``make_app()`` builds (on the server's loop) with aiohttp's ``AppRunner`` and
    ``TCPSite``; yield its base URL."""
    from aiohttp import web

    with _loop_thread() as loop:

        async def start() -> tuple[web.AppRunner, str]:
            runner = web.AppRunner(make_app(), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            return runner, f"http://127.0.0.1:{port}"

        runner, url = _run(loop, start)
        try:
            yield url
        finally:
            _run(loop, runner.cleanup)


@contextlib.contextmanager
def tornado_server(make_app: Callable[[], Any]) -> Iterator[str]:
    """Serve the Tornado application ``make_app()`` builds with Tornado's own ``HTTPServer``;
    yield its base URL."""
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    with _loop_thread() as loop:

        async def start() -> tuple[HTTPServer, str]:
            sockets = bind_sockets(0, "127.0.0.1")
            server = HTTPServer(make_app())
            server.add_sockets(sockets)
            return server, f"http://127.0.0.1:{sockets[0].getsockname()[1]}"

        server, url = _run(loop, start)
        try:
            yield url
        finally:

            async def stop() -> None:
                server.stop()
                await server.close_all_connections()

            _run(loop, stop)
