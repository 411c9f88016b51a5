"""Configuration of the token endpoint, validated once, at construction.

:class:`Settings` holds every option that shapes the answer, shared by the ASGI shell, the WSGI shell
and every framework integration. :meth:`Settings.build` checks each option and raises
:class:`~rollout_middleware.errors.ConfigurationError` with a message that names it, so a wrong
setting fails when the app starts, never at its first request.

:func:`is_async_callable` is the one place that tells async callables from sync ones.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import re
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import anyio
from asgiref.sync import iscoroutinefunction

from .errors import ConfigurationError, ResolverTimeoutError
from .tokens import DEFAULT_TTL, TokenIssuer

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_METHODS",
    "DEFAULT_PATH",
    "DEFAULT_RESOLVER_TIMEOUT",
    "Options",
    "RequestInfo",
    "Settings",
    "await_within",
    "check_path",
    "is_async_callable",
]

#: The path of Rollout's own front-end guide: ``fetch("/rollout-token")``.
DEFAULT_PATH = "/rollout-token"
DEFAULT_METHODS: tuple[str, ...] = ("GET",)
#: Seconds a resolver may take before the request is answered 503.
DEFAULT_RESOLVER_TIMEOUT = 10.0
#: Bytes of request body read (and discarded) on the token path before answering 413.
DEFAULT_MAX_BODY_SIZE = 64 * 1024

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Z]+")  # RFC 9110 token, upper case
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")
_BAD_PATH_CHARS = re.compile(r"[\s?#\x00-\x1f\x7f]")


class RequestInfo(TypedDict):
    """What the ``on_issue`` audit hook learns of the request: never a token or a cookie."""

    method: str
    path: str
    client: str | None


class Options(TypedDict, total=False):
    """The keyword options every shell and integration takes besides ``resolve_user`` and ``path``.

    Defaults and meanings are those of :meth:`Settings.build` (and the README's table).
    """

    issuer: TokenIssuer | None
    client_id: str | None
    client_secret: str | bytes | None
    ttl: int
    methods: Iterable[str]
    allowed_origins: Iterable[str]
    resolver_timeout: float | None
    on_issue: Callable[[str, int, RequestInfo], Any] | None
    thread_sensitive: bool
    max_body_size: int


def is_async_callable(obj: object) -> bool:
    """Tell whether calling ``obj`` returns an awaitable.

    True for coroutine functions, :func:`functools.partial` objects around one, functions marked with
    :func:`asgiref.sync.markcoroutinefunction`, and objects whose ``__call__`` is a coroutine function.
    """
    while isinstance(obj, functools.partial):
        obj = obj.func
    if iscoroutinefunction(obj):
        return True
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - the method, not callable()
    return call is not None and not isinstance(obj, type) and iscoroutinefunction(call)


#: ``asyncio.timeout`` (Python 3.11+) costs about a third of ``anyio.move_on_after`` on asyncio;
#: other event loops (trio) and Python 3.10 use anyio's.
_HAS_ASYNCIO_TIMEOUT = sys.version_info >= (3, 11)


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # another event loop, such as trio
        return False
    return True


async def await_within(awaitable: Awaitable[Any], timeout: float | None) -> Any:  # noqa: ASYNC109
    """Await ``awaitable``, giving up after ``timeout`` seconds (``None``: no limit).

    Raises :class:`~rollout_middleware.errors.ResolverTimeoutError` when the time is up; any
    exception of the awaitable's own, ``TimeoutError`` included, propagates unchanged.

    On asyncio a coroutine is first run by hand up to its first wait. Most resolvers (a session or
    header lookup) finish there, and then no timer is armed at all: arming and cancelling one costs
    more than the rest of the resolver. A coroutine that does wait goes on under
    :func:`asyncio.timeout` (the part before its first wait is synchronous, which no timer could
    interrupt anyway).
    """
    if timeout is None:
        return await awaitable
    if _HAS_ASYNCIO_TIMEOUT and _on_asyncio():
        if isinstance(awaitable, Coroutine):
            try:
                waiting_on = awaitable.send(None)
            except StopIteration as done:
                return done.value
            awaitable = _resume(awaitable, waiting_on)
        deadline = asyncio.timeout(timeout)  # type: ignore[attr-defined,unused-ignore]
        try:
            async with deadline:
                return await awaitable
        except TimeoutError:
            if deadline.expired():
                raise ResolverTimeoutError(f"took longer than {timeout} seconds") from None
            raise
    with anyio.move_on_after(timeout):
        return await awaitable
    raise ResolverTimeoutError(f"took longer than {timeout} seconds")


@types.coroutine
def _resume(coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> Generator[Any, Any, Any]:
    """Go on with ``coroutine``, stepped once by hand and now waiting on ``waiting_on``.

    What ``await`` does for a coroutine, from its second step on: what it waits on goes up to the
    event loop's task, and what the task sends or throws back goes down into it.
    """
    while True:
        try:
            sent = yield waiting_on
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:  # cancellation included: the coroutine decides
            try:
                waiting_on = coroutine.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                waiting_on = coroutine.send(sent)
            except StopIteration as done:
                return done.value


def check_path(path: object) -> str:
    """Return ``path`` if it can be a token path, else raise :class:`ConfigurationError`."""
    if not isinstance(path, str) or not path.startswith("/") or _BAD_PATH_CHARS.search(path):
        raise ConfigurationError(
            "path must be a str that starts with '/' and holds no whitespace, '?' or '#', "
            f"got {path!r}"
        )
    return path


def _check_methods(methods: object) -> frozenset[str]:
    if isinstance(methods, (str, bytes)) or not isinstance(methods, Iterable):
        raise ConfigurationError(
            f"methods must be a sequence of HTTP method names such as ('GET',), got {methods!r}"
        )
    checked = set()
    for method in methods:
        if not isinstance(method, str) or not _TOKEN.fullmatch(method):
            raise ConfigurationError(
                f"each method must be an upper-case HTTP method name, got {method!r}"
            )
        if method == "OPTIONS":
            raise ConfigurationError(
                "OPTIONS cannot serve tokens: it is the CORS preflight, answered by the middleware "
                "itself when allowed_origins is set"
            )
        checked.add(method)
    if not checked:
        raise ConfigurationError("methods must name at least one HTTP method")
    if "GET" in checked:
        checked.add("HEAD")
    return frozenset(checked)


def _check_origins(origins: object) -> frozenset[str]:
    if isinstance(origins, (str, bytes)) or not isinstance(origins, Iterable):
        raise ConfigurationError(
            "allowed_origins must be a sequence of origins such as ('https://app.example.com',), "
            f"got {origins!r}"
        )
    checked = set()
    for origin in origins:
        if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
            raise ConfigurationError(
                "each allowed origin must be 'scheme://host[:port]' with no path, no trailing '/' "
                f"and no wildcard, got {origin!r}"
            )
        checked.add(origin.lower())
    return frozenset(checked)


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigurationError(
            f"resolver_timeout must be a positive number of seconds or None, got {timeout!r}"
        )
    return float(timeout)


@dataclass(frozen=True)
class Settings:
    """Everything that shapes the token endpoint's answers, validated.

    Build it with :meth:`build`, which takes the same keyword arguments as the middleware.
    ``path`` is ``None`` for a standalone endpoint, which answers every request routed to it.
    """

    issuer: TokenIssuer
    resolve_user: Callable[[Any], Any]
    resolver_is_async: bool
    path: str | None
    methods: frozenset[str]
    allowed_origins: frozenset[str]
    resolver_timeout: float | None
    on_issue: Callable[..., Any] | None
    on_issue_is_async: bool
    thread_sensitive: bool
    max_body_size: int

    @classmethod
    def build(
        cls,
        *,
        resolve_user: Callable[[Any], Any],
        path: str | None = DEFAULT_PATH,
        issuer: TokenIssuer | None = None,
        client_id: str | None = None,
        client_secret: str | bytes | None = None,
        ttl: int = DEFAULT_TTL,
        methods: Iterable[str] = DEFAULT_METHODS,
        allowed_origins: Iterable[str] = (),
        resolver_timeout: float | None = DEFAULT_RESOLVER_TIMEOUT,
        on_issue: Callable[..., Any] | None = None,
        thread_sensitive: bool = False,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        environ: Mapping[str, str] = os.environ,
    ) -> Settings:
        """Validate the options and build the settings.

        - ``resolve_user``: the app's callable, given the ASGI scope or the WSGI environ, returning
          the user id (``str`` or ``int``) or ``None``; sync or async.
        - ``path``: the token path, matched exactly; ``None`` for a standalone endpoint.
        - ``issuer``, or ``client_id``/``client_secret``/``ttl``: how tokens are minted.
        - ``methods``: the methods that serve a token (``GET`` implies ``HEAD``).
        - ``allowed_origins``: origins (``scheme://host[:port]``) allowed cross-site, with CORS.
        - ``resolver_timeout``: seconds before a resolver's answer is given up for a 503.
        - ``on_issue``: audit hook ``(user_id, expires_at, request_info)``, sync or async.
        - ``thread_sensitive``: ASGI only; where sync callables run (see :mod:`.asgi`).
        - ``max_body_size``: bytes of request body read and discarded before a 413.

        Without ``issuer``, a :class:`~rollout_middleware.tokens.TokenIssuer` is built from
        ``client_id`` and ``client_secret``, each falling back to ``ROLLOUT_CLIENT_ID`` and
        ``ROLLOUT_CLIENT_SECRET`` in ``environ``.
        """
        if not callable(resolve_user):
            raise ConfigurationError(
                "resolve_user must be a callable that returns a user id or None"
            )
        if on_issue is not None and not callable(on_issue):
            raise ConfigurationError("on_issue must be a callable or None")
        if issuer is None:
            issuer = TokenIssuer(
                environ.get("ROLLOUT_CLIENT_ID", "") if client_id is None else client_id,
                environ.get("ROLLOUT_CLIENT_SECRET", "")
                if client_secret is None
                else client_secret,
                ttl=ttl,
            )
        elif not isinstance(issuer, TokenIssuer):
            raise ConfigurationError(f"issuer must be a TokenIssuer, got {type(issuer).__name__}")
        elif client_id is not None or client_secret is not None or ttl != DEFAULT_TTL:
            raise ConfigurationError("give either issuer or client_id/client_secret/ttl, not both")
        if not isinstance(thread_sensitive, bool):
            raise ConfigurationError("thread_sensitive must be True or False")
        if (
            isinstance(max_body_size, bool)
            or not isinstance(max_body_size, int)
            or max_body_size < 0
        ):
            raise ConfigurationError(
                f"max_body_size must be a whole number of bytes, 0 or more, got {max_body_size!r}"
            )
        return cls(
            issuer=issuer,
            resolve_user=resolve_user,
            resolver_is_async=is_async_callable(resolve_user),
            path=None if path is None else check_path(path),
            methods=_check_methods(methods),
            allowed_origins=_check_origins(allowed_origins),
            resolver_timeout=_check_timeout(resolver_timeout),
            on_issue=on_issue,
            on_issue_is_async=on_issue is not None and is_async_callable(on_issue),
            thread_sensitive=thread_sensitive,
            max_body_size=max_body_size,
        )
