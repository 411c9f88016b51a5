"""The WSGI middleware and the Flask extension in real WSGI servers on 127.0.0.1.

gunicorn (sync and gthread workers) and waitress serve ``tests.apps.wsgi_app:app``, which runs the
middleware stacks under ``wsgiref.validate.validator`` (its warnings made errors; see that module for
why the Flask app is not); the plain WSGI example runs in ``wsgiref.simple_server``. Tokens are fetched over HTTP and verified independently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .support import (
    CLIENT_ID,
    PYTHON,
    ROOT,
    SECRET,
    b64url_decode,
    free_port,
    running_server,
    verify_token,
)

pytestmark = pytest.mark.server

CREDENTIALS = {"ROLLOUT_CLIENT_ID": CLIENT_ID, "ROLLOUT_CLIENT_SECRET": SECRET}
#: In the server process, a PEP 3333 violation the validator finds fails the request.
STRICT = ["-W", "error::wsgiref.validate.WSGIWarning"]
APP = "tests.apps.wsgi_app:app"


def server_argv(kind: str, port: int) -> list[str]:
    bind = f"127.0.0.1:{port}"
    gunicorn = [PYTHON, *STRICT, "-m", "gunicorn", "--bind", bind, "--graceful-timeout", "1"]
    if kind == "gunicorn-sync":
        return [*gunicorn, "--worker-class", "sync", "--workers", "2", APP]
    if kind == "gunicorn-gthread":
        return [*gunicorn, "--worker-class", "gthread", "--workers", "1", "--threads", "8", APP]
    assert kind == "waitress"
    return [PYTHON, *STRICT, "-m", "waitress", f"--listen={bind}", "--threads=8", APP]


@pytest.fixture(scope="module", params=["gunicorn-sync", "gunicorn-gthread", "waitress"])
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    port = free_port()
    with running_server(server_argv(request.param, port), port, env=CREDENTIALS) as url:
        yield url


def login(client: httpx.Client, prefix: str, username: str) -> None:
    passwords = {"alice": "wonderland", "bob": "builder"}
    response = client.post(
        f"{prefix}/login", data={"username": username, "password": passwords[username]}
    )
    assert response.status_code in (200, 303), response.text


def assert_token(response: httpx.Response, subject: str) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-length"] == str(len(response.content))
    body = response.json()
    claims = verify_token(body["token"])
    assert claims["sub"] == subject
    assert body["expires_at"] == claims["exp"]


@pytest.mark.parametrize("prefix", ["", "/flask", "/async"], ids=["wsgi", "flask", "async"])
def test_login_then_token_over_http(server: str, prefix: str) -> None:
    with httpx.Client(base_url=server) as client:
        anonymous = client.get(f"{prefix}/rollout-token")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.json()["status"] == 401
        login(client, prefix, "alice")
        assert_token(client.get(f"{prefix}/rollout-token"), "alice")

        head = client.head(f"{prefix}/rollout-token")
        assert head.status_code == 200
        assert head.content == b""
        assert int(head.headers["content-length"]) > 0

        refused = client.post(f"{prefix}/rollout-token", content=b"a body")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, HEAD"
        assert refused.json()["status"] == 405

        client.post(f"{prefix}/logout")
        assert client.get(f"{prefix}/rollout-token").status_code == 401


@pytest.mark.parametrize("prefix", ["", "/flask"], ids=["wsgi", "flask"])
def test_the_app_itself_passes_through(server: str, prefix: str) -> None:
    with httpx.Client(base_url=server) as client:
        login(client, prefix, "bob")
        assert client.get(f"{prefix}/").json() == {"user": "bob", "mount": prefix}
        with client.stream("GET", f"{prefix}/stream") as streamed:
            assert streamed.status_code == 200
            lines = [line for line in streamed.iter_lines() if line]
        assert len(lines) == 3
        assert lines[0].endswith("chunk 0")
        assert client.get(f"{prefix}/rollout-token/").status_code == 404


def test_concurrent_requests_each_get_their_own_users_token(server: str) -> None:
    clients = {}
    for name in ("alice", "bob"):
        clients[name] = httpx.Client(base_url=server)
        login(clients[name], "", name)

    def fetch(n: int) -> tuple[str, httpx.Response]:
        name, prefix = ("alice", "bob")[n % 2], ("", "/async", "/flask")[n % 3]
        if prefix == "/flask":
            with httpx.Client(base_url=server) as own:
                login(own, "/flask", name)
                return name, own.get("/flask/rollout-token")
        return name, clients[name].get(f"{prefix}/rollout-token")

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(fetch, range(24)))
    finally:
        for client in clients.values():
            client.close()
    for name, response in results:
        assert_token(response, name)


def test_the_plain_wsgi_example_in_wsgiref() -> None:
    port = free_port()
    argv = [PYTHON, *STRICT, str(ROOT / "examples" / "wsgi_server.py"), "--port", str(port)]
    with (
        running_server(argv, port, env=CREDENTIALS) as url,
        httpx.Client(base_url=url, follow_redirects=True) as client,
    ):
        assert client.get("/rollout-token").status_code == 401
        home = client.post("/login", data={"username": "alice"})
        assert home.status_code == 200
        assert "alice" in home.text
        assert_token(client.get("/rollout-token"), "alice")
        assert client.get("/nothing").status_code == 404
        client.post("/logout")
        assert client.get("/rollout-token").status_code == 401


def test_the_example_runs_with_demo_credentials() -> None:
    port = free_port()
    argv = [PYTHON, str(ROOT / "examples" / "wsgi_server.py"), "--port", str(port)]
    env = {"ROLLOUT_CLIENT_ID": "", "ROLLOUT_CLIENT_SECRET": ""}
    with running_server(argv, port, env=env) as url, httpx.Client(base_url=url) as client:
        client.post("/login", data={"username": "alice"})
        token = client.get("/rollout-token").json()["token"]
        claims = json.loads(b64url_decode(token.split(".")[1]))
        assert claims["sub"] == "alice"
        assert claims["iss"] == "demo-client"
