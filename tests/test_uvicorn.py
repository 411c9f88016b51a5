"""The ASGI middleware in a real uvicorn server on 127.0.0.1, with a real session login."""

from __future__ import annotations

import httpx
import pytest

from .support import PYTHON, free_port, running_server, verify_token

pytestmark = pytest.mark.server


@pytest.mark.parametrize(
    "flags",
    [["--loop", "asyncio", "--http", "h11"], ["--loop", "uvloop", "--http", "httptools"]],
    ids=["h11", "httptools"],
)
def test_uvicorn_login_and_token(flags: list[str]) -> None:
    port = free_port()
    argv = [PYTHON, "-m", "uvicorn", "tests.apps.starlette_app:app", "--port", str(port)]
    with (
        running_server([*argv, "--host", "127.0.0.1", *flags], port) as url,
        httpx.Client(base_url=url, follow_redirects=True) as client,
    ):
        assert client.get("/rollout-token").status_code == 401
        response = client.post("/login", data={"username": "alice", "password": "wonderland"})
        assert response.status_code == 200  # followed the redirect home
        assert response.json() == {"user": "alice"}
        token_response = client.get("/rollout-token")
        assert token_response.headers["cache-control"] == "no-store"
        assert verify_token(token_response.json()["token"])["sub"] == "alice"
        head = client.head("/rollout-token")
        assert head.status_code == 200
        assert head.content == b""
        assert client.post("/rollout-token").status_code == 405
        assert client.get("/").json() == {"user": "alice"}


def test_uvicorn_root_path_mount() -> None:
    port = free_port()
    argv = [
        PYTHON,
        "-m",
        "uvicorn",
        "tests.apps.starlette_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--root-path",
        "/prefix",
    ]
    with (
        running_server(argv, port) as url,
        httpx.Client(base_url=url, follow_redirects=True) as client,
    ):
        client.post("/login", data={"username": "bob", "password": "builder"})
        # Behind a proxy that strips /prefix, uvicorn prepends root_path to path.
        token = client.get("/rollout-token").json()["token"]
        assert verify_token(token)["sub"] == "bob"
