"""Configuration of the token endpoint, validated once, at construction.

:class:`Settings` holds every option that shapes the answer (issuer, path, methods, allowed origins,
body size, audit hook), shared by the ASGI shell, the WSGI shell and every framework integration.
:class:`ResolverSettings` holds how a shell finds the user (resolver, timeout, thread), which only
the shells that call a resolver need. Both ``build`` methods check each option and raise
:class:`~rollout_middleware.errors.ConfigurationError` with a message that names it, so a wrong
setting fails when the app starts, never at its first request.

:func:`is_async_callable` is the one place that tells async callables from sync ones;
:func:`as_async` and :func:`as_sync` the one place that bridges them.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import math
import os
import re
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

import anyio
from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async

from .errors import ConfigurationError, ResolverTimeoutError
from .tokens import DEFAULT_TTL, TokenIssuer

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "ANSWER_OPTIONS",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_METHODS",
    "DEFAULT_PATH",
    "DEFAULT_RESOLVER_TIMEOUT",
    "SHELL_OPTIONS",
    "THREAD_SENSITIVE_NEEDS_ASYNCIO",
    "AnswerOptions",
    "Options",
    "RequestInfo",
    "ResolverSettings",
    "Settings",
    "as_async",
    "as_sync",
    "await_within",
    "check_option_names",
    "check_path",
    "is_async_callable",
    "shell_settings",
]

#: The path of Rollout's own front-end guide: ``fetch("/rollout-token")``.
DEFAULT_PATH = "/rollout-token"
DEFAULT_METHODS: tuple[str, ...] = ("GET",)
#: Seconds a resolver may take before the request is answered 503.
DEFAULT_RESOLVER_TIMEOUT = 10.0
#: Bytes of request body read (and discarded) on the token path before answering 413.
DEFAULT_MAX_BODY_SIZE = 64 * 1024

#: Why ``thread_sensitive=True`` fails on trio, and the fix.
THREAD_SENSITIVE_NEEDS_ASYNCIO = (
    "thread_sensitive=True runs sync callables on asgiref's one shared thread, which needs an "
    "asyncio event loop, and this server runs another one (trio?): use thread_sensitive=False "
    "(anyio's worker threads, on any event loop), or an async resolver and hook, or run the "
    "server on asyncio"
)

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Z]+")  # RFC 9110 token, upper case
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")
_BAD_PATH_CHARS = re.compile(r"[\s?#\x00-\x1f\x7f]")


class RequestInfo(TypedDict):
    """What the ``on_issue`` audit hook learns of the request: never a token or a cookie."""

    method: str
    path: str
    client: str | None


class AnswerOptions(TypedDict, total=False):
    """The keyword options that shape the answer, taken by :meth:`TokenDecision.build
    <rollout_middleware.decision.TokenDecision.build>` and by every shell and integration.

    Defaults and meanings are those of :meth:`Settings.build` (and the README's table).
    """

    issuer: TokenIssuer | None
    client_id: str | None
    client_secret: str | bytes | None
    ttl: int
    methods: Iterable[str]
    allowed_origins: Iterable[str]
    on_issue: Callable[[str, int, RequestInfo], Any] | None
    max_body_size: int


class Options(AnswerOptions, total=False):
    """:class:`AnswerOptions` and the options of a shell that finds the user with a resolver.

    The ASGI and WSGI middleware and endpoints take these besides ``resolve_user`` and ``path``;
    see :meth:`ResolverSettings.build`.
    """

    resolver_timeout: float | None
    thread_sensitive: bool


ANSWER_OPTIONS = frozenset(AnswerOptions.__optional_keys__)
SHELL_OPTIONS = frozenset(Options.__optional_keys__)


def check_option_names(owner: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise ``TypeError`` for a keyword ``owner`` does not take, suggesting the nearest known one.

    ``owner`` is what the user called (``"RolloutTokenMiddleware"``), so the message names it rather
    than an internal.
    """
    known = sorted(known)
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1) or sorted(
                (k for k in known if k in name or name in k), key=len, reverse=True
            )  # ttl_seconds, secret: too far apart for difflib, yet plainly ttl, client_secret
            hint = f"; did you mean {close[0]!r}?" if close else f"; it takes {', '.join(known)}"
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}{hint}")


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


def as_async(
    func: Callable[..., Any], is_async: bool, *, thread_sensitive: bool = False
) -> Callable[..., Awaitable[Any]]:
    """``func`` as an async callable, for an event loop; sync callables never run on the loop.

    An async ``func`` is returned as it is. A sync one runs in a worker thread: with
    ``thread_sensitive=False``, one of anyio's worker threads on whatever event loop is running
    (asyncio or trio), abandoned if the caller is cancelled (a resolver timeout); with
    ``thread_sensitive=True``, asgiref's one thread for thread-bound code such as Django's ORM
    (asyncio only, as Django's own ASGI handler: on another event loop, such as trio, each call
    raises :class:`~rollout_middleware.errors.ConfigurationError` with
    :data:`THREAD_SENSITIVE_NEEDS_ASYNCIO`, which the token endpoint logs once and answers 500).
    """
    if is_async:
        return func
    if thread_sensitive:
        on_one_thread = sync_to_async(func, thread_sensitive=True)

        async def on_asgirefs_thread(*args: Any) -> Any:
            if not _on_asyncio():  # asgiref would fail with "no running event loop"
                raise ConfigurationError(THREAD_SENSITIVE_NEEDS_ASYNCIO)
            return await on_one_thread(*args)

        return on_asgirefs_thread

    async def in_thread(*args: Any) -> Any:
        return await anyio.to_thread.run_sync(func, *args, abandon_on_cancel=True)

    return in_thread


def as_sync(
    func: Callable[..., Any], is_async: bool, timeout: float | None = None
) -> Callable[..., Any]:
    """``func`` as a sync callable, for a request thread: an async one runs to completion through
    :func:`asgiref.sync.async_to_sync`, within ``timeout`` seconds if given."""
    if not is_async:
        return func
    if timeout is None:
        return async_to_sync(func)

    async def bounded(*args: Any) -> Any:
        return await await_within(func(*args), timeout)

    return async_to_sync(bounded)


@dataclass(frozen=True)
class Settings:
    """Everything that shapes the token endpoint's answers, validated; nothing of how the user is found.

    Build it with :meth:`build`, which takes ``path`` and the :class:`AnswerOptions`. ``path`` is
    ``None`` for a standalone endpoint, which answers every request routed to it.
    """

    issuer: TokenIssuer
    path: str | None
    methods: frozenset[str]
    allowed_origins: frozenset[str]
    on_issue: Callable[..., Any] | None
    on_issue_is_async: bool
    max_body_size: int

    @classmethod
    def build(
        cls,
        *,
        path: str | None = DEFAULT_PATH,
        environ: Mapping[str, str] | None = None,
        owner: str = "Settings.build",
        **options: Unpack[AnswerOptions],
    ) -> Settings:
        """Validate the options and build the settings.

        - ``path``: the token path, matched exactly; ``None`` for a standalone endpoint.
        - ``issuer``, or ``client_id``/``client_secret``/``ttl``: how tokens are minted.
        - ``methods``: the methods that serve a token (``GET`` implies ``HEAD``).
        - ``allowed_origins``: origins (``scheme://host[:port]``) allowed cross-site, with CORS.
        - ``on_issue``: audit hook ``(user_id, expires_at, request_info)``, sync or async.
        - ``max_body_size``: bytes of request body read and discarded before a 413.

        Without ``issuer``, a :class:`~rollout_middleware.tokens.TokenIssuer` is built from
        ``client_id`` and ``client_secret``, each falling back to ``ROLLOUT_CLIENT_ID`` and
        ``ROLLOUT_CLIENT_SECRET`` in ``environ`` (the process environment, read now, by default).
        ``owner`` names the caller in the error for an unknown keyword.
        """
        check_option_names(owner, options, {"path", *ANSWER_OPTIONS})
        issuer = options.get("issuer")
        client_id = options.get("client_id")
        client_secret = options.get("client_secret")
        ttl = options.get("ttl", DEFAULT_TTL)
        on_issue = options.get("on_issue")
        max_body_size = options.get("max_body_size", DEFAULT_MAX_BODY_SIZE)
        if on_issue is not None and not callable(on_issue):
            raise ConfigurationError(
                f"on_issue must be a callable or None, got {type(on_issue).__name__}"
            )
        if issuer is None:
            env = os.environ if environ is None else environ
            issuer = TokenIssuer(
                env.get("ROLLOUT_CLIENT_ID", "") if client_id is None else client_id,
                env.get("ROLLOUT_CLIENT_SECRET", "") if client_secret is None else client_secret,
                ttl=ttl,
            )
        elif not isinstance(issuer, TokenIssuer):
            raise ConfigurationError(f"issuer must be a TokenIssuer, got {type(issuer).__name__}")
        elif client_id is not None or client_secret is not None or ttl != DEFAULT_TTL:
            raise ConfigurationError("give either issuer or client_id/client_secret/ttl, not both")
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
            path=None if path is None else check_path(path),
            methods=_check_methods(options.get("methods", DEFAULT_METHODS)),
            allowed_origins=_check_origins(options.get("allowed_origins", ())),
            on_issue=on_issue,
            on_issue_is_async=on_issue is not None and is_async_callable(on_issue),
            max_body_size=max_body_size,
        )


@dataclass(frozen=True)
class ResolverSettings:
    """How a shell finds the user: the app's resolver, its deadline, and where a sync one runs.

    Only the shells that call a resolver (ASGI, WSGI, the framework wiring built on them) have
    these; an integration whose framework finds the user itself has none.
    """

    resolve_user: Callable[[Any], Any]
    is_async: bool
    timeout: float | None
    thread_sensitive: bool

    @classmethod
    def build(
        cls,
        resolve_user: Callable[[Any], Any],
        *,
        resolver_timeout: float | None = DEFAULT_RESOLVER_TIMEOUT,
        thread_sensitive: bool = False,
    ) -> ResolverSettings:
        """Validate the resolver options.

        - ``resolve_user``: the app's callable, given the ASGI scope or the WSGI environ, returning
          the user id (``str`` or ``int``) or ``None``; sync or async.
        - ``resolver_timeout``: seconds before a resolver's answer is given up for a 503.
        - ``thread_sensitive``: ASGI only; where sync callables run (see :func:`as_async`).
        """
        if not callable(resolve_user):
            raise ConfigurationError(
                "resolve_user must be a callable that returns a user id or None, "
                f"got {type(resolve_user).__name__}"
            )
        if not isinstance(thread_sensitive, bool):
            raise ConfigurationError(
                f"thread_sensitive must be True or False, got {thread_sensitive!r}"
            )
        return cls(
            resolve_user=resolve_user,
            is_async=is_async_callable(resolve_user),
            timeout=_check_timeout(resolver_timeout),
            thread_sensitive=thread_sensitive,
        )


def shell_settings(
    owner: str,
    resolve_user: Callable[[Any], Any],
    path: str | None,
    options: Mapping[str, Any],
) -> tuple[Settings, ResolverSettings]:
    """Both halves of a shell's configuration, from its ``resolve_user``, ``path`` and options.

    ``owner`` is the class the user called, named in the error for an unknown keyword.
    """
    check_option_names(owner, options, {"path", "resolve_user", *SHELL_OPTIONS})
    answer_options = {k: v for k, v in options.items() if k in ANSWER_OPTIONS}
    resolver = ResolverSettings.build(
        resolve_user,
        resolver_timeout=options.get("resolver_timeout", DEFAULT_RESOLVER_TIMEOUT),
        thread_sensitive=options.get("thread_sensitive", False),
    )
    return Settings.build(path=path, **answer_options), resolver  # every name checked above
