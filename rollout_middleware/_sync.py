"""Sync and async callables: telling them apart, and running each where it belongs."""

from __future__ import annotations

import asyncio
import functools
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

import anyio
from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async

from .errors import ConfigurationError, ResolverTimeoutError

#: Why ``thread_sensitive=True`` fails on trio, and the fix.
THREAD_SENSITIVE_NEEDS_ASYNCIO = (
    "thread_sensitive=True runs sync callables on asgiref's one shared thread, which needs an "
    "asyncio event loop, and this server runs another one (trio?): use thread_sensitive=False "
    "(anyio's worker threads, on any event loop), or an async resolver and hook, or run the "
    "server on asyncio"
)


def is_async_callable(obj: object) -> bool:
    """Tell whether calling ``obj`` returns an awaitable."""
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


def first_step(awaitable: Awaitable[Any]) -> tuple[bool, Any]:
    """Step a coroutine once by hand: ``(True, its value)`` if it finished there (most resolvers
    do: no timer, no loop lookup), else ``(False, what is left to await)``."""
    if type(awaitable) is not types.CoroutineType and not isinstance(awaitable, Coroutine):
        return False, awaitable
    # Driven by a ``for`` loop, which ends without the StopIteration (and its traceback) that
    # ``send()`` raises: that exception cost more than the rest of the step, in a loaded server.
    box: list[Any] = []
    steps = _boxed(awaitable, box)
    for waiting_on in steps:
        return False, _unboxed(_resume(steps, waiting_on), box)
    return True, box[0]


@types.coroutine
def _boxed(coroutine: Coroutine[Any, Any, Any], box: list[Any]) -> Generator[Any, Any, None]:
    box.append((yield from coroutine))


@types.coroutine
def _unboxed(rest: Generator[Any, Any, Any], box: list[Any]) -> Generator[Any, Any, Any]:
    yield from rest
    return box[0]


async def await_within(awaitable: Awaitable[Any], timeout: float | None) -> Any:  # noqa: ASYNC109
    """Await ``awaitable``, giving up after ``timeout`` seconds (``None``: no limit)."""
    if timeout is None:
        return await awaitable
    done, awaitable = first_step(awaitable)
    if done:
        return awaitable
    if _HAS_ASYNCIO_TIMEOUT and _on_asyncio():
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
    """Go on with ``coroutine``, stepped once by hand and now waiting on ``waiting_on``."""
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


def as_async(
    func: Callable[..., Any], is_async: bool, *, thread_sensitive: bool = False
) -> Callable[..., Awaitable[Any]]:
    """``func`` as an async callable, for an event loop; sync callables never run on the loop."""
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
