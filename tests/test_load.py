"""Isolation under concurrency, over real servers on 127.0.0.1: no token for the wrong user.

``tests/apps/load_app.py`` is served by uvicorn (ASGI, one worker) and by gunicorn (gthread, 2
workers x 16 threads). 2,000 requests at concurrency 64 come from 200 distinct users, each named by
its own header or cookie; the resolver waits a little before it reads the request again, so the
requests interleave inside it. Every answer must be 200 with a valid token whose ``sub`` is exactly
the requesting user. The figures are printed (``pytest -s``) for docs/security.md.

``ROLLOUT_LOAD_REQUESTS`` changes the number of requests (default 2000).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import httpx
import pytest

from .support import CLIENT_ID, PYTHON, SECRET, free_port, running_server, verify_token

pytestmark = [pytest.mark.server, pytest.mark.slow]

REQUESTS = int(os.environ.get("ROLLOUT_LOAD_REQUESTS", "2000"))
CONCURRENCY = 64
USERS = 200
ENV = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}


def server_argv(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [
            PYTHON, "-m", "uvicorn", "tests.apps.load_app:asgi",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--backlog", "512",
        ]  # fmt: skip
    return [
        PYTHON, "-m", "gunicorn", "tests.apps.load_app:wsgi",
        "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread",
        "--workers", "2", "--threads", "16", "--log-level", "warning",
        "--backlog", "512",
    ]  # fmt: skip


@pytest.fixture(params=["uvicorn", "gunicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    port = free_port()
    with running_server(server_argv(request.param, port), port, env=ENV, ready_path="/ping") as url:
        yield request.param, url


async def hammer(url: str) -> tuple[list[tuple[str, int, str]], float]:
    """Send REQUESTS token requests at CONCURRENCY; return (user, status, body) and seconds."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    gate = asyncio.Semaphore(CONCURRENCY)
    results: list[tuple[str, int, str]] = []

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

        async def one(i: int) -> None:
            user = f"user-{i % USERS}"
            # Half the users are named by a header, half by a cookie (sent as a header, so that
            # the client's cookie jar cannot mix them up).
            if i % USERS % 2:
                headers = {"x-user": user}
            else:
                headers = {"cookie": f"theme=dark; uid={user}; lang=en"}
            async with gate:
                response = await http.get("/rollout-token", headers=headers)
            results.append((user, response.status_code, response.text))

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(REQUESTS)))
        elapsed = time.perf_counter() - start
    return results, elapsed


def test_every_token_is_for_the_requesting_user(server: tuple[str, str]) -> None:
    name, url = server
    results, elapsed = asyncio.run(hammer(url))
    assert len(results) == REQUESTS
    errors = [(user, status, body) for user, status, body in results if status != 200]
    assert errors == []
    subjects: dict[str, int] = {}
    for user, _, body in results:
        claims = verify_token(httpx.Response(200, content=body).json()["token"])
        assert claims["sub"] == user
        subjects[user] = subjects.get(user, 0) + 1
    assert len(subjects) == USERS
    print(
        f"\n[load] {name}: {REQUESTS} requests, concurrency {CONCURRENCY}, {USERS} users: "
        f"{elapsed:.2f} s, {REQUESTS / elapsed:.0f} req/s, 0 errors, 0 wrong subjects"
    )
