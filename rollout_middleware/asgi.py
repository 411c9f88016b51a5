"""The ASGI shell: :class:`RolloutTokenMiddleware` and :class:`RolloutTokenEndpoint`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from . import _config
from ._config import DEFAULT_PATH, SHELL_OPTIONS, Settings
from ._sync import as_async
from .decision import BODYLESS_METHODS, Answer, ClientDisconnected, TokenDecision

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._config import Options

__all__ = ["RolloutTokenEndpoint", "RolloutTokenMiddleware"]


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})


class _Shell:
    """Answers its token requests, and passes every other scope to ``app``."""

    def __init__(self, settings: Settings, app: ASGIApp, path: str) -> None:
        self.app, self.path = app, path
        self._decision = TokenDecision(settings)
        self._resolve = as_async(
            settings.resolve_user,  # type: ignore[arg-type]
            settings.resolver_is_async,
            thread_sensitive=settings.thread_sensitive,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["path"].endswith(self.path)
            and (
                (scope["path"] == self.path and not scope.get("root_path"))
                or self._decision.owns(scope["path"], scope.get("root_path"))
            )
        ):
            await self.app(scope, receive, send)
            return
        # The token request is answered here, not in another layer: each call costs on every token.
        decision = self._decision
        client, method = scope.get("client"), scope["method"]
        request = decision.request(
            method, scope["headers"], path=scope["path"], client=client and client[0]
        )
        body = None if method in BODYLESS_METHODS else _body(receive)
        started = decision.start(request, partial(self._resolve, scope), body)
        answer = started if isinstance(started, Answer) else await started
        if answer is None:  # the client went away: nobody to answer
            return
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.raw_headers}
        )
        await send({"type": "http.response.body", "body": answer.body})


class RolloutTokenMiddleware(_Shell):
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
        given = {**options, "resolve_user": resolve_user, "path": path}
        super().__init__(_config.build(type(self).__name__, given, SHELL_OPTIONS), app, path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, app={self.app!r})"


class RolloutTokenEndpoint(_Shell):
    """The token answer as an ASGI app for a router: ``Route("/rollout-token", ...)``."""

    def __init__(self, *, resolve_user: Callable[[Scope], Any], **options: Unpack[Options]) -> None:
        settings = _config.build(
            type(self).__name__, {**options, "resolve_user": resolve_user}, SHELL_OPTIONS - {"path"}
        )
        super().__init__(settings, _lifespan, "")  # "": every path is the endpoint's

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
