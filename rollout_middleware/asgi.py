"""The ASGI shell: :class:`RolloutTokenMiddleware` and :class:`RolloutTokenEndpoint`.

Both are pure ASGI (never ``BaseHTTPMiddleware``). They translate a scope and its messages into the
plain values of :mod:`rollout_middleware.decision` and its :class:`~rollout_middleware.decision.Answer`
back into two ``send`` calls. Nothing else is decided here.

``resolve_user(scope)`` may be sync or async. An async resolver is awaited on the event loop. A sync
one runs in a worker thread, never on the loop: ``thread_sensitive=False`` (the default) uses
anyio's worker threads, on asyncio or trio; ``thread_sensitive=True`` the one thread asgiref keeps
for thread-bound code such as Django's ORM (see :func:`~rollout_middleware.config.as_async`).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .config import DEFAULT_PATH, Options, ResolverSettings, Settings, as_async, await_within
from .config import shell_settings as _shell_settings
from .decision import HEADER_NAMES, Answer, TokenDecision
from .errors import ConfigurationError, ResolverTimeoutError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["RolloutTokenEndpoint", "RolloutTokenMiddleware"]

_WANTED = frozenset(name.encode("latin-1") for name in HEADER_NAMES)


class _TokenApp:
    """The token answer as an ASGI callable, shared by the middleware and the endpoint."""

    __slots__ = ("_resolve", "_timeout", "decision")

    def __init__(self, settings: Settings, resolver: ResolverSettings) -> None:
        self.decision = TokenDecision(settings, thread_sensitive=resolver.thread_sensitive)
        self._resolve = as_async(
            resolver.resolve_user, resolver.is_async, thread_sensitive=resolver.thread_sensitive
        )
        self._timeout = resolver.timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        decision = self.decision
        method: str = scope["method"]
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _WANTED
        }
        answer = decision.precheck(method, headers)
        if answer is None and decision.wants_body(method):
            size = await _drain(receive, decision.settings.max_body_size)
            if size is None:  # the client went away: nobody to answer
                return
            if size < 0:
                answer = decision.body_too_large(method, headers)
        if answer is None:
            answer = await self._answer_user(scope, method, headers)
        await send(
            {"type": "http.response.start", "status": answer.status, "headers": answer.raw_headers}
        )
        await send({"type": "http.response.body", "body": answer.body})

    async def _answer_user(self, scope: Scope, method: str, headers: dict[str, str]) -> Answer:
        decision = self.decision
        try:
            user_id = await await_within(self._resolve(scope), self._timeout)
        except ResolverTimeoutError:
            return decision.resolver_timed_out(method, headers, self._timeout)
        except Exception:
            return decision.resolver_failed(method, headers)
        client = scope.get("client")
        return await decision.respond_async(
            method,
            user_id,
            headers,
            {"method": method, "path": scope["path"], "client": client[0] if client else None},
        )


async def _drain(receive: Receive, limit: int) -> int | None:
    """Read and discard the request body: its size, -1 past ``limit``, None on disconnect."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        size += len(message.get("body", b""))
        if size > limit:
            return -1
        if not message.get("more_body", False):
            return size


class RolloutTokenMiddleware:
    """Serve Rollout tokens on one path; pass every other request to ``app`` untouched.

    ``resolve_user(scope)`` returns the logged-in user's id (a ``str`` or an ``int``) or ``None``;
    it may be sync or async. Without ``issuer`` or explicit ``client_id``/``client_secret`` the
    credentials come from ``ROLLOUT_CLIENT_ID``/``ROLLOUT_CLIENT_SECRET``. ``path`` is matched
    exactly, relative to the mount point (``root_path``); ``/rollout-token/`` is not
    ``/rollout-token``. Every other option is described in :class:`~rollout_middleware.config.Settings`
    and the README. Configuration errors raise
    :class:`~rollout_middleware.errors.ConfigurationError` here.

    ``lifespan``, ``websocket`` and every other request reach ``app`` with the very same ``scope``,
    ``receive`` and ``send``.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """An instance; or, when Starlette or FastAPI builds its middleware stack lazily (at the
        first event, the lifespan startup) from a wrong configuration, an app that fails that
        startup with the error, so the server stops instead of answering 500 on every route."""
        if _built_lazily():
            try:
                try:
                    inspect.signature(cls.__init__).bind(None, *args, **kwargs)
                except TypeError as exc:  # "missing a required argument: 'resolve_user'"
                    raise TypeError(f"{cls.__name__}(): {exc}") from None
                options = {k: v for k, v in kwargs.items() if k not in ("resolve_user", "path")}
                _shell_settings(
                    cls.__name__,
                    kwargs["resolve_user"],
                    kwargs.get("path", DEFAULT_PATH),
                    options,
                )
            except (ConfigurationError, TypeError) as exc:
                return _FailStartup(exc)
        return super().__new__(cls)

    def __init__(
        self,
        app: ASGIApp,
        *,
        resolve_user: Callable[[Scope], Any],
        path: str = DEFAULT_PATH,
        **options: Unpack[Options],
    ) -> None:
        self.app = app
        self.path = path
        self._token_app = _TokenApp(
            *_shell_settings(type(self).__name__, resolve_user, path, options)
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, app={self.app!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(self.path):
            await self.app(scope, receive, send)
            return
        if self._token_app.decision.owns(scope["path"], scope.get("root_path", "")):
            await self._token_app(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _built_lazily() -> bool:
    """Whether the middleware is being built by Starlette's (or FastAPI's) lazy
    ``build_middleware_stack``, at the app's first event, rather than by the user's own code."""
    frame = sys._getframe(2)  # _built_lazily <- __new__ <- whoever called the class
    module = frame.f_globals.get("__name__", "")
    return frame.f_code.co_name == "build_middleware_stack" and module.startswith(
        ("starlette.", "fastapi.")
    )


class _FailStartup:
    """What a wrongly configured :class:`RolloutTokenMiddleware` becomes when Starlette builds it
    lazily: it fails the lifespan startup with the configuration error (uvicorn, Hypercorn and
    Granian then exit, whatever their lifespan setting), and raises it for every other event (a
    server that runs no lifespan, such as Daphne, answers 500)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"RolloutTokenMiddleware(failed: {self.error})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send(
                    {
                        "type": "lifespan.startup.failed",
                        "message": f"RolloutTokenMiddleware is misconfigured: "
                        f"{type(self.error).__name__}: {self.error}",
                    }
                )
        raise self.error  # after startup.failed too, as Starlette's router does


class RolloutTokenEndpoint:
    """The token answer as a standalone ASGI app, for a framework's router.

    It answers every HTTP request routed to it, so route it at an exact path: Starlette's
    ``Route("/rollout-token", RolloutTokenEndpoint(...))``. Under ``Mount`` or FastAPI's
    ``app.mount`` it answers every path below the mount point. Options are those of
    :class:`RolloutTokenMiddleware`, without ``path``. Other scope types get no answer.
    """

    def __init__(
        self,
        *,
        resolve_user: Callable[[Scope], Any],
        **options: Unpack[Options],
    ) -> None:
        self._token_app = _TokenApp(
            *_shell_settings(type(self).__name__, resolve_user, None, options)
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        if scope["type"] != "http":
            return None
        await self._token_app(scope, receive, send)
        return None


async def _lifespan(receive: Receive, send: Send) -> None:
    """Complete a lifespan cycle for an endpoint run as the whole app (nothing to start)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
