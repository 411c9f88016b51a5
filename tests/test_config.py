"""Configuration helpers: ``await_within``, the one deadline both shells put on a resolver."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from rollout_middleware import _sync as config
from rollout_middleware._sync import await_within
from rollout_middleware.errors import ResolverTimeoutError

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


#: The deadlines ``await_within`` can use here: asyncio's own is Python 3.11+.
DEADLINES = ["asyncio.timeout", "anyio"] if config._HAS_ASYNCIO_TIMEOUT else ["anyio"]


@pytest.fixture(params=DEADLINES)
def deadline_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each test with asyncio's timeout (3.11+) and with anyio's (3.10, other loops)."""
    if request.param == "anyio":
        monkeypatch.setattr(config, "_HAS_ASYNCIO_TIMEOUT", False)
    return str(request.param)


async def immediate() -> str:
    return REQUEST_ID.get()


async def waits(times: int, delay: float = 0) -> str:
    for _ in range(times):
        await asyncio.sleep(delay)
    return REQUEST_ID.get()


def run(coro: Any) -> Any:
    async def main() -> Any:
        REQUEST_ID.set("req-1")
        return await coro

    return asyncio.run(main())


def test_a_resolver_that_never_waits_arms_no_timer() -> None:
    """The coroutine is stepped by hand first, on any event loop and Python: one that finishes
    there arms no timer at all."""

    async def main() -> tuple[str, int]:
        REQUEST_ID.set("req-1")
        loop = asyncio.get_running_loop()
        before = len(loop._scheduled)  # type: ignore[attr-defined]
        value = await await_within(immediate(), 5)
        return value, len(loop._scheduled) - before  # type: ignore[attr-defined]

    value, timers = asyncio.run(main())
    assert value == "req-1"
    assert timers == 0


def test_a_resolver_that_waits_arms_one_timer() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        before = len(loop._scheduled)  # type: ignore[attr-defined]
        seen: list[int] = []

        async def waits_and_counts() -> str:
            await asyncio.sleep(0)
            seen.append(len(loop._scheduled) - before)  # type: ignore[attr-defined]
            return "ok"

        await await_within(waits_and_counts(), 5)
        return seen[0]

    assert asyncio.run(main()) == 1


@pytest.mark.parametrize("times", [1, 3])
def test_a_resolver_that_waits_finishes_in_time(deadline_kind: str, times: int) -> None:
    assert run(await_within(waits(times, 0.001), 5)) == "req-1"


def test_no_deadline(deadline_kind: str) -> None:
    assert run(await_within(waits(2), None)) == "req-1"


def test_a_slow_resolver_is_cancelled_at_the_deadline(deadline_kind: str) -> None:
    events: list[str] = []

    async def slow() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return "late"

    with pytest.raises(ResolverTimeoutError, match=r"longer than 0\.02"):
        run(await_within(slow(), 0.02))
    assert events == ["cancelled"]


@pytest.mark.parametrize("wait_first", [False, True])
def test_the_resolvers_own_errors_propagate_unchanged(deadline_kind: str, wait_first: bool) -> None:
    async def fails() -> str:
        if wait_first:
            await asyncio.sleep(0)
        raise TimeoutError("the database timed out")

    with pytest.raises(TimeoutError, match="database") as info:
        run(await_within(fails(), 5))
    assert not isinstance(info.value, ResolverTimeoutError)


def test_cancelling_the_request_cancels_the_resolver(deadline_kind: str) -> None:
    events: list[str] = []

    async def waits_forever() -> str:
        try:
            await asyncio.Event().wait()
        finally:
            events.append("resolver cleaned up")
        return "never"

    async def main() -> None:
        task = asyncio.ensure_future(await_within(waits_forever(), 5))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert events == ["resolver cleaned up"]


def test_values_sent_back_into_the_resolver_arrive(deadline_kind: str) -> None:
    async def uses_a_future() -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        loop.call_later(0.001, future.set_result, 41)
        value = await future
        await asyncio.sleep(0)
        return value + 1

    assert run(await_within(uses_a_future(), 5)) == 42


def test_other_awaitables(deadline_kind: str) -> None:
    async def main() -> int:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(7)
        return int(await await_within(future, 5))

    assert asyncio.run(main()) == 7
