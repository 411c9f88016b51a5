"""Faults: failing and hanging resolvers, clients that go away, huge headers and bodies, the clock.

Server tests run ``tests/apps/load_app.py`` on real uvicorn and gunicorn servers on 127.0.0.1; the
rest drive the shells directly (hand-built scopes and environs, see ``tests/drive.py``).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from rollout_middleware import TokenIssuer

from .drive import (
    SHELLS,
    PassThroughASGI,
    Receiver,
    Sender,
    asgi_scope,
    call_wsgi,
    middleware,
    run,
    wsgi_environ,
)
from .support import CLIENT_ID, SECRET, b64url_decode, free_port, running_server, verify_token
from .test_load import ENV, server_argv


@pytest.fixture(params=SHELLS)
def shell(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ask(shell: str, app: Any, method: str = "GET", **request: Any) -> Any:
    """One request to ``app`` of ``shell``; headers as (str, str) pairs."""
    headers = request.pop("headers", [])
    chunks = request.pop("chunks", [])
    if shell == "asgi":
        scope = asgi_scope(method, headers=[(k.encode(), v.encode()) for k, v in headers])
        send = Sender()
        run(app(scope, Receiver(chunks), send))
        return send.answer()
    return call_wsgi(app, wsgi_environ(method, headers=headers, body=b"".join(chunks)))


# --- Over real servers -------------------------------------------------------------------------


@pytest.fixture(params=["uvicorn", "gunicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    port = free_port()
    env = {**ENV, "LOAD_RESOLVER_TIMEOUT": "1"}
    with running_server(server_argv(request.param, port), port, env=env, ready_path="/ping") as url:
        yield request.param, url


@pytest.mark.server
def test_one_in_ten_failing_resolvers_get_500_and_the_rest_are_served(
    server: tuple[str, str],
) -> None:
    _, url = server

    async def main() -> list[tuple[int, int, str]]:
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

            async def one(i: int) -> tuple[int, int, str]:
                headers = {"x-user": f"u{i}"}
                if i % 10 == 3:
                    headers["x-fault"] = "raise"
                response = await http.get("/rollout-token", headers=headers)
                return i, response.status_code, response.text

            return await asyncio.gather(*(one(i) for i in range(200)))

    results = asyncio.run(main())
    failed = sorted(i for i, status, _ in results if status == 500)
    assert failed == [i for i in range(200) if i % 10 == 3]
    for i, status, body in results:
        if status == 200:
            assert verify_token(httpx.Response(200, content=body).json()["token"])["sub"] == f"u{i}"
        else:
            assert "the user store failed" not in body
    assert {status for _, status, _ in results} == {200, 500}
    # ...and it keeps serving.
    assert httpx.get(url + "/ping").text == "pong"
    assert httpx.get(url + "/rollout-token", headers={"x-user": "after"}).status_code == 200


@pytest.mark.server
def test_hung_resolver_gets_503_while_the_event_loop_serves_others() -> None:
    port = free_port()
    env = {**ENV, "LOAD_RESOLVER_TIMEOUT": "1.5"}
    argv = server_argv("uvicorn", port)
    with running_server(argv, port, env=env, ready_path="/ping") as url:

        async def main() -> tuple[httpx.Response, list[str], list[httpx.Response], list[str]]:
            done: list[str] = []
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:

                async def hung() -> httpx.Response:
                    response = await http.get(
                        "/rollout-token", headers={"x-user": "stuck", "x-fault": "hang"}
                    )
                    done.append("hung")
                    return response

                hung_task = asyncio.create_task(hung())
                # Wait until the server reports the resolver hanging (the pass-through app's
                # /sleep awaits on the same event loop, so it can only answer if the loop is free).
                for _ in range(100):
                    sleeping = (await http.get("/sleep")).text
                    if sleeping == "hanging=1":
                        break
                others = []
                for i in range(5):
                    others.append(await http.get("/rollout-token", headers={"x-user": f"o{i}"}))
                    done.append(f"o{i}")
                during = (await http.get("/sleep")).text
                done.append("sleep")
                return await hung_task, [sleeping, during], others, done

        hung, sleeps, others, done = asyncio.run(main())
    # While one resolver hung, the loop answered pass-through and token requests.
    assert sleeps == ["hanging=1", "hanging=1"]
    assert [r.status_code for r in others] == [200] * 5
    assert [verify_token(r.json()["token"])["sub"] for r in others] == [f"o{i}" for i in range(5)]
    assert done == ["o0", "o1", "o2", "o3", "o4", "sleep", "hung"]
    assert hung.status_code == 503
    assert hung.headers["content-type"] == "application/problem+json"
    assert "token" not in hung.json()


def raw_exchange(url: str, data: bytes, *, read: bool = True) -> bytes:
    """Send ``data`` on a fresh socket; return what the server answers before it closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        if not read:
            return b""
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.server
def test_clients_that_go_away_and_huge_headers_do_not_hurt_the_server(
    server: tuple[str, str],
) -> None:
    _, url = server
    # A POST whose client closes after part of the body, many times over.
    for _ in range(20):
        raw_exchange(
            url,
            b"POST /rollout-token HTTP/1.1\r\nHost: x\r\nX-User: gone\r\n"
            b"Content-Length: 100000\r\n\r\n" + b"x" * 1000,
            read=False,
        )
    # A GET whose client closes before reading the answer.
    for _ in range(20):
        raw_exchange(
            url, b"GET /rollout-token HTTP/1.1\r\nHost: x\r\nX-User: gone\r\n\r\n", read=False
        )
    # A very large header: the server refuses it, or our answer is still a correct one.
    answer = raw_exchange(
        url,
        b"GET /rollout-token HTTP/1.1\r\nHost: x\r\nX-User: big\r\nCookie: c="
        + b"a" * 200_000
        + b"\r\nConnection: close\r\n\r\n",
    )
    if answer:
        status = int(answer.split(b" ", 2)[1])
        assert status in (200, 400, 413, 431), answer[:200]
        if status == 200:
            _head, _, body = answer.partition(b"\r\n\r\n")
            claims = verify_token(httpx.Response(200, content=body).json()["token"])
            assert claims["sub"] == "big"
    # A body far past the limit gets 413 without the server reading it all.
    big = httpx.post(
        url + "/rollout-token", headers={"x-user": "poster"}, content=b"x" * 5_000_000, timeout=30
    )
    assert big.status_code == 413
    # The server is fine.
    assert httpx.get(url + "/ping").text == "pong"
    response = httpx.get(url + "/rollout-token", headers={"x-user": "still-here"})
    assert verify_token(response.json()["token"])["sub"] == "still-here"


# --- Directly against the shells ---------------------------------------------------------------


def test_asgi_client_disconnecting_while_the_body_is_drained() -> None:
    calls: list[object] = []

    def resolve(scope: Any) -> str:
        calls.append(scope)
        return "nobody"

    app = PassThroughASGI()
    token_app = middleware("asgi", resolve, app, methods=["POST"])
    receive = Receiver([b"a" * 100] * 10, disconnect_after=3)
    send = Sender()
    run(token_app(asgi_scope("POST"), receive, send))
    assert send.messages == []  # nobody to answer
    assert receive.calls == 4  # three chunks, then the disconnect
    assert calls == []
    assert app.seen == []


def test_a_very_large_header_gets_a_correct_answer(shell: str) -> None:
    def resolve(request: Any) -> str:
        return "big-header"

    token_app = middleware(shell, resolve)
    cookie = "session=" + "z" * 1_000_000
    answer = ask(shell, token_app, headers=[("cookie", cookie), ("origin", "x" * 100_000)])
    assert answer.status == 200
    assert int(answer.header("content-length")) == len(answer.body)
    assert verify_token(httpx.Response(200, content=answer.body).json()["token"])["sub"] == (
        "big-header"
    )


LIMIT = 64 * 1024


@pytest.mark.parametrize("size", [0, LIMIT, LIMIT + 1, 50 * LIMIT])
def test_post_body_is_read_in_pieces_up_to_the_limit_then_413(shell: str, size: int) -> None:
    def resolve(request: Any) -> str:
        return "poster"

    token_app = middleware(shell, resolve, methods=["POST"], max_body_size=LIMIT)
    piece = 1024
    body = b"b" * size
    if shell == "asgi":
        chunks = [body[i : i + piece] for i in range(0, size, piece)] or [b""]
        receive = Receiver(chunks)
        send = Sender()
        run(token_app(asgi_scope("POST"), receive, send))
        answer = send.answer()
        # Read message by message, never past the first piece beyond the limit.
        assert receive.bytes_read <= LIMIT + piece
        assert receive.calls == min(len(chunks), LIMIT // piece + 1)
    else:
        environ = wsgi_environ("POST", body=body)
        stream = environ["wsgi.input"]
        answer = call_wsgi(token_app, environ)
        # Read in bounded pieces, and nothing at all once Content-Length says it is too big.
        assert stream.bytes_read == (size if size <= LIMIT else 0)
        assert stream.largest_read <= LIMIT
    assert answer is not None
    if size <= LIMIT:
        assert answer.status == 200
    else:
        assert answer.status == 413
        assert answer.header("content-type") == "application/problem+json"


# --- The clock, and a fresh mint per request -----------------------------------------------------


class CountingIssuer(TokenIssuer):
    """A real issuer that counts its mints (an issuer is the one thing a test may stand in for)."""

    def __init__(self, clock: Any) -> None:
        super().__init__(CLIENT_ID, SECRET, ttl=900, clock=clock)
        self.issued = 0
        self._lock = threading.Lock()

    def issue(self, user_id: str | int) -> Any:
        with self._lock:
            self.issued += 1
        return super().issue(user_id)


@pytest.mark.parametrize(
    "now",
    [
        1_800_000_000.0,
        1_800_000_000.999999,
        1_800_000_001 - 1e-6,
        1_800_000_000 + 0.5,
        2**31 - 0.001,
    ],
)
def test_exp_minus_iat_is_the_ttl_at_second_boundaries(shell: str, now: float) -> None:
    issuer = CountingIssuer(lambda: now)
    token_app = middleware(
        shell, lambda request: "clocked", issuer=issuer, client_id=None, client_secret=None
    )
    answer = ask(shell, token_app)
    body = json.loads(answer.body)
    # verify_token() checks iat against the real clock; this one is injected, so read the claims.
    claims = json.loads(b64url_decode(body["token"].split(".")[1]))
    assert claims["iat"] == int(now)
    assert claims["exp"] - claims["iat"] == 900
    assert body["expires_at"] == claims["exp"]
    assert body["expires_in"] == 900


def test_concurrent_requests_each_get_a_fresh_mint(shell: str) -> None:
    issuer = CountingIssuer(lambda: 1_800_000_000.25)  # one frozen second
    token_app = middleware(
        shell, lambda request: "same-user", issuer=issuer, client_id=None, client_secret=None
    )
    count = 40
    if shell == "asgi":

        async def many() -> list[Any]:
            sends = [Sender() for _ in range(count)]
            await asyncio.gather(*(token_app(asgi_scope(), Receiver(), send) for send in sends))
            return [send.answer() for send in sends]

        answers = run(many())
    else:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: ask("wsgi", token_app), range(count)))
    assert issuer.issued == count
    tokens = {httpx.Response(200, content=a.body).json()["token"] for a in answers}
    # Equal claims (same user, same second) give byte-equal tokens: HS512 is deterministic. Each
    # was still minted for its own request, never served from a cache.
    assert len(tokens) == 1


@pytest.mark.parametrize("size", [10, LIMIT, LIMIT + 1, 20 * LIMIT])
def test_chunked_body_without_content_length_is_bounded_the_same(shell: str, size: int) -> None:
    """Regression: the WSGI shell ignored a chunked body (no CONTENT_LENGTH): 200, unlike ASGI."""
    token_app = middleware(shell, lambda request: "chunked", methods=["POST"], max_body_size=LIMIT)
    body = b"c" * size
    if shell == "asgi":
        receive = Receiver([body[i : i + 4096] for i in range(0, size, 4096)])
        send = Sender()
        run(token_app(asgi_scope("POST"), receive, send))
        answer, read = send.answer(), receive.bytes_read
    else:
        environ = wsgi_environ("POST", body=body, content_length="")
        del environ["CONTENT_LENGTH"]
        environ["wsgi.input_terminated"] = True
        stream = environ["wsgi.input"]
        answer = call_wsgi(token_app, environ)
        read = stream.bytes_read
        assert stream.largest_read <= LIMIT + 1
    assert answer is not None
    assert answer.status == (200 if size <= LIMIT else 413)
    if size <= LIMIT:
        assert read == size
    else:
        assert LIMIT < read <= LIMIT + 4096


@pytest.mark.server
def test_chunked_post_over_the_limit_gets_413_from_both_servers(server: tuple[str, str]) -> None:
    _, url = server

    def chunks(total: int) -> Iterator[bytes]:
        for _ in range(total // 8192):
            yield b"k" * 8192

    small = httpx.post(url + "/rollout-token", headers={"x-user": "c"}, content=chunks(8192 * 2))
    large = httpx.post(url + "/rollout-token", headers={"x-user": "c"}, content=chunks(8192 * 64))
    assert small.status_code == 200
    assert large.status_code == 413
    assert httpx.get(url + "/ping").text == "pong"
