"""The ASGI shell: :class:`RolloutTokenMiddleware` and :class:`RolloutTokenEndpoint`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from . import _config
from ._config import DEFAULT_PATH, SHELL_OPTIONS, Settings
from ._sync import as_async
from .decision import HEADER_NAMES, ClientDisconnected, TokenDecision

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._config import Options

__all__ = ["RolloutTokenEndpoint", "RolloutTokenMiddleware"]

_WANTED = frozenset(name.encode("latin-1") for name in HEADER_NAMES)


def _headers(scope: Scope) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in scope["headers"]
        if name in _WANTED
    ]


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


class _TokenApp:
    """The token answer as an ASGI app, shared by the middleware and the endpoint."""

    __slots__ = ("_resolve", "decision")

    def __init__(self, settings: Settings) -> None:
        self.decision = TokenDecision(settings)
        self._resolve = as_async(
            settings.resolve_user,  # type: ignore[arg-type]
            settings.resolver_is_async,
            thread_sensitive=settings.thread_sensitive,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        decision, resolve = self.decision, self._resolve
        client, method = scope.get("client"), scope["method"]
        request = decision.request(
            method, _headers(scope), path=scope["path"], client=client and client[0]
        )
        body = _body(receive) if decision.reads_body(method) else None
        answer = await decision.handle_async(request, lambda: resolve(scope), body)
        if answer is None:  # the client went away: nobody to answer
            return
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.raw_headers}
        )
        await send({"type": "http.response.body", "body": answer.body})


class RolloutTokenMiddleware:
    """Serve Rollout tokens on ``path``; pass every other request, and every other scope type,
    to ``app`` untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        resolve_user: Callable[[Scope], Any],
        path: str = DEFAULT_PATH,
        **options: Unpack[Options],
    ) -> None:
        settings = _config.build(
            type(self).__name__,
            {**options, "resolve_user": resolve_user, "path": path},
            SHELL_OPTIONS,
        )
        self.app = app
        self.path = path
        self._token_app = _TokenApp(settings)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, app={self.app!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].endswith(self.path)
            and self._token_app.decision.owns(scope["path"], scope.get("root_path", ""))
        ):
            await self._token_app(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class RolloutTokenEndpoint:
    """The token answer as an ASGI app for a router: ``Route("/rollout-token", ...)``."""

    def __init__(self, *, resolve_user: Callable[[Scope], Any], **options: Unpack[Options]) -> None:
        self._token_app = _TokenApp(
            _config.build(
                type(self).__name__,
                {**options, "resolve_user": resolve_user},
                SHELL_OPTIONS - {"path"},
            )
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "http":
            await self._token_app(scope, receive, send)
