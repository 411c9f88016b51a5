"""trio: under Hypercorn's trio worker, sync resolvers and hooks run in worker threads (anyio),
async resolvers and the resolver timeout work, and ``thread_sensitive=True``, which needs asyncio,
fails clearly: 500, with one log record that says why and what to do."""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest

from rollout_middleware import RolloutTokenEndpoint
from rollout_middleware._sync import THREAD_SENSITIVE_NEEDS_ASYNCIO
from tests.compat.helpers import check_token, require_module
from tests.support import CLIENT_ID, SECRET, free_port, running_server


@pytest.mark.server
def test_hypercorn_trio_worker() -> None:
    require_module("hypercorn")
    require_module("trio", "pip install -e '.[test]'")
    port = free_port()
    argv = [sys.executable, "-m", "hypercorn", "--worker-class", "trio"]
    argv += ["--bind", f"127.0.0.1:{port}", "tests.apps.trio_app:app"]
    with (
        running_server(argv, port, ready_path="/loop") as url,
        httpx.Client(base_url=url) as client,
    ):
        assert client.get("/loop").json() == {"loop": "trio"}
        check_token(client.get("/rollout-token", headers={"X-User": "ada"}), "ada@thread")
        assert client.get("/rollout-token").status_code == 401
        assert client.get("/issued").json() == [
            {"user": "ada@thread", "off_loop": True, "path": "/rollout-token"}
        ]
        check_token(client.get("/async-token", headers={"X-User": "grace"}), "grace")
        assert client.get("/slow-token").status_code == 503
        for _ in range(2):
            refused = client.get("/thread-sensitive-token", headers={"X-User": "alan"})
            assert refused.status_code == 500
            assert "trio" not in refused.text


def test_thread_sensitive_on_trio_is_a_500_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    trio = require_module("trio", "pip install -e '.[test]'")
    endpoint = RolloutTokenEndpoint(
        resolve_user=lambda scope: "alan",
        thread_sensitive=True,
        client_id=CLIENT_ID,
        client_secret=SECRET,
    )

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=endpoint)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [(await client.get("/")).status_code for _ in range(3)]

    assert trio.run(main) == [500, 500, 500]
    records = [r for r in caplog.records if r.name == "rollout_middleware"]
    assert len(records) == 1
    assert records[0].exc_info is None
    assert THREAD_SENSITIVE_NEEDS_ASYNCIO in records[0].getMessage()


def test_a_sync_hook_and_resolver_on_trio_in_process() -> None:
    trio = require_module("trio", "pip install -e '.[test]'")
    seen: list[Any] = []
    endpoint = RolloutTokenEndpoint(
        resolve_user=lambda scope: "ada",
        on_issue=lambda user, exp, info: seen.append(user),
        client_id=CLIENT_ID,
        client_secret=SECRET,
    )

    async def main() -> int:
        transport = httpx.ASGITransport(app=endpoint)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/")).status_code

    assert trio.run(main) == 200
    assert seen == ["ada"]
