"""docs/core.md: its complete adapter runs as printed and answers as the ASGI middleware does."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import Scope

from rollout_middleware import RolloutTokenMiddleware

from .shells import asgi_app
from .support import CLIENT_ID, SECRET, verify_token

DOC = Path(__file__).resolve().parent.parent / "docs" / "core.md"


def doc_block(heading: str) -> str:
    section = DOC.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block under {heading!r}"
    return match.group(1)


@pytest.fixture
def doc_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    namespace: dict[str, Any] = {"__name__": "core_doc_adapter"}
    exec(compile(doc_block("A complete adapter"), str(DOC), "exec"), namespace)  # noqa: S102
    server = namespace["ThreadingHTTPServer"](("127.0.0.1", 0), namespace["TokenHandler"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_build_block_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ROLLOUT_CLIENT_SECRET", SECRET)
    namespace: dict[str, Any] = {}
    exec(doc_block("Build it once, at startup"), namespace)  # noqa: S102
    assert namespace["decision"].settings.allowed_origins == {"https://app.example.com"}


def _proxy_user(scope: Scope) -> str | None:
    value = dict(scope["headers"]).get(b"x-authenticated-user")
    return None if value is None else value.decode()


CASES = [
    ("GET", {"X-Authenticated-User": "ada"}),
    ("HEAD", {"X-Authenticated-User": "ada"}),
    ("GET", {}),
    ("GET", {"X-Authenticated-User": "ada", "Sec-Fetch-Site": "cross-site"}),
    ("POST", {"X-Authenticated-User": "ada"}),
    ("OPTIONS", {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}),
]


@pytest.mark.parametrize(("method", "headers"), CASES)
def test_the_doc_adapter_answers_as_the_middleware(
    doc_server: str, method: str, headers: dict[str, str]
) -> None:
    got = httpx.request(method, doc_server + "/rollout-token", headers=headers)
    middleware = RolloutTokenMiddleware(
        asgi_app, resolve_user=_proxy_user, client_id=CLIENT_ID, client_secret=SECRET
    )
    with TestClient(middleware, base_url="http://testserver") as client:
        expected = client.request(method, "/rollout-token", headers=headers)
    assert got.status_code == expected.status_code
    ignore = {"date", "server", "connection"}
    ours = {k: v for k, v in got.headers.items() if k not in ignore}
    theirs = {k: v for k, v in expected.headers.items() if k not in ignore}
    if got.status_code == 200 and method == "GET":
        # Minted a moment apart, the tokens may differ by a second: compare what they say.
        assert verify_token(got.json()["token"])["sub"] == "ada"
        assert list(got.json()) == list(expected.json())
        assert got.json()["expires_in"] == expected.json()["expires_in"]
        del ours["content-length"], theirs["content-length"]
    else:
        assert got.content == expected.content
    assert ours == theirs


def test_other_paths_are_not_the_adapters(doc_server: str) -> None:
    assert httpx.get(doc_server + "/elsewhere").status_code == 404


def test_a_query_string_is_not_part_of_the_path(doc_server: str) -> None:
    got = httpx.get(doc_server + "/rollout-token?x=1", headers={"X-Authenticated-User": "ada"})
    assert verify_token(got.json()["token"])["sub"] == "ada"
