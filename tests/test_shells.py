"""What each shell alone must do: pass-through untouched, scope types, WSGI iterables, disconnects."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest
from starlette.types import Message, Receive, Scope, Send

from rollout_middleware import (
    RolloutTokenEndpoint,
    RolloutTokenMiddleware,
    RolloutTokenWSGIEndpoint,
    RolloutTokenWSGIMiddleware,
)
from rollout_middleware._sync import is_async_callable

from .support import CLIENT_ID, SECRET, verify_token

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": SECRET}


def never(scope: Any) -> Any:
    raise AssertionError("the resolver must not run for a pass-through request")


class Recorder:
    """An ASGI app that records exactly what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[Scope, Receive, Send]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls.append((scope, receive, send))


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


@pytest.mark.parametrize(
    "scope",
    [
        {"type": "lifespan", "asgi": {"version": "3.0"}},
        {"type": "websocket", "path": "/rollout-token", "root_path": "", "headers": []},
        {"type": "http", "method": "GET", "path": "/other", "root_path": "", "headers": []},
        {
            "type": "http",
            "method": "GET",
            "path": "/rollout-token/",
            "root_path": "",
            "headers": [],
        },
        {
            "type": "http",
            "method": "GET",
            "path": "/x/rollout-token",
            "root_path": "",
            "headers": [],
        },
        {"type": "http", "method": "GET", "path": "/m/x/rollout-token", "root_path": "/m"},
        {"type": "future-protocol", "path": "/rollout-token"},
    ],
    ids=["lifespan", "websocket", "other", "slash", "prefix", "mounted-prefix", "unknown-type"],
)
def test_asgi_pass_through_hands_over_the_same_objects(scope: Scope) -> None:
    inner = Recorder()
    middleware = RolloutTokenMiddleware(inner, resolve_user=never, **CREDENTIALS)
    before = dict(scope)
    asyncio.run(middleware(scope, _receive, _send))
    [(seen_scope, seen_receive, seen_send)] = inner.calls
    assert seen_scope is scope
    assert seen_receive is _receive
    assert seen_send is _send
    assert scope == before


def _run_token_request(app: Any, scope: Scope, messages: list[Message]) -> list[Message]:
    sent: list[Message] = []
    incoming = iter(messages)

    async def receive() -> Message:
        return next(incoming)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def _http_scope(**extra: Any) -> Scope:
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/rollout-token",
        "raw_path": b"/rollout-token",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    scope.update(extra)
    return scope


def test_asgi_token_answer_is_exactly_two_messages() -> None:
    middleware = RolloutTokenMiddleware(Recorder(), resolve_user=lambda s: "u", **CREDENTIALS)
    sent = _run_token_request(middleware, _http_scope(), [])
    start, body = sent
    assert start["type"] == "http.response.start"
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert all(name == name.lower() for name in headers)
    assert int(headers[b"content-length"]) == len(body["body"])
    assert body["type"] == "http.response.body"
    assert body.get("more_body", False) is False


@pytest.mark.parametrize("container", [list, tuple, iter], ids=["list", "tuple", "iterator"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([(b"sec-fetch-site", b"cross-site")], 403),
        ([(b"sec-fetch-site", b"same-origin")], 200),
        ([(b"sec-fetch-site", b"cross-site"), (b"sec-fetch-site", b"same-origin")], 403),
        ([(b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"sec-fetch-site", b"cross-site")], 403),
        ([(b"cookie", b"a=1"), (b"cookie", b"b=2")], 200),
    ],
    ids=["cross-site", "same-origin", "repeated", "other-repeated-cross", "other-repeated"],
)
def test_asgi_headers_as_any_iterable(
    container: Callable[[list[tuple[bytes, bytes]]], Iterable[tuple[bytes, bytes]]],
    headers: list[tuple[bytes, bytes]],
    status: int,
) -> None:
    """ASGI headers are any iterable of pairs; the ones the core reads are found in each."""
    middleware = RolloutTokenMiddleware(Recorder(), resolve_user=lambda s: "u", **CREDENTIALS)
    scope = _http_scope(headers=container([(b"host", b"testserver"), *headers]))
    assert _run_token_request(middleware, scope, [])[0]["status"] == status


def test_asgi_client_gone_while_draining_body() -> None:
    middleware = RolloutTokenMiddleware(
        Recorder(), resolve_user=never, methods=("POST",), **CREDENTIALS
    )
    messages: list[Message] = [
        {"type": "http.request", "body": b"abc", "more_body": True},
        {"type": "http.disconnect"},
    ]
    assert _run_token_request(middleware, _http_scope(method="POST"), messages) == []


def test_asgi_body_drain_stops_at_the_limit() -> None:
    middleware = RolloutTokenMiddleware(
        Recorder(), resolve_user=never, methods=("POST",), max_body_size=100, **CREDENTIALS
    )
    chunk: Message = {"type": "http.request", "body": b"x" * 60, "more_body": True}
    messages = [chunk, chunk, chunk, chunk]
    sent = _run_token_request(middleware, _http_scope(method="POST"), messages)
    assert sent[0]["status"] == 413
    assert len(messages) == 4  # the list itself is untouched; two were read


def test_asgi_root_path_not_in_path_still_matches() -> None:
    """Servers that follow the older convention give ``path`` without ``root_path``."""
    middleware = RolloutTokenMiddleware(Recorder(), resolve_user=lambda s: "u", **CREDENTIALS)
    sent = _run_token_request(middleware, _http_scope(root_path="/mnt"), [])
    assert sent[0]["status"] == 200


def test_asgi_endpoint_runs_lifespan_and_ignores_websockets() -> None:
    endpoint = RolloutTokenEndpoint(resolve_user=lambda s: "u", **CREDENTIALS)
    messages: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = _run_token_request(endpoint, {"type": "lifespan"}, messages)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert _run_token_request(endpoint, {"type": "websocket", "path": "/"}, []) == []
    sent = _run_token_request(endpoint, _http_scope(path="/anything"), [])
    token = dict(sent[0]["headers"])
    assert sent[0]["status"] == 200
    assert b"application/json" in token[b"content-type"]
    assert repr(endpoint) == "RolloutTokenEndpoint()"


def test_sync_resolver_runs_off_the_event_loop() -> None:
    import threading

    loop_threads: list[bool] = []
    main = threading.get_ident()

    def resolver(scope: Scope) -> str:
        loop_threads.append(threading.get_ident() == main)
        return "u"

    middleware = RolloutTokenMiddleware(Recorder(), resolve_user=resolver, **CREDENTIALS)
    assert _run_token_request(middleware, _http_scope(), [])[0]["status"] == 200
    assert loop_threads == [False]


def _environ(path: str = "/rollout-token", method: str = "GET", **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
    }
    setup_testing_defaults(environ)
    environ.update(extra)
    return environ


class ClosingBody:
    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield b"streamed"

    def close(self) -> None:
        self.closed = True


def test_wsgi_pass_through_returns_the_apps_own_iterable() -> None:
    body = ClosingBody()
    seen: list[Any] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    middleware = RolloutTokenWSGIMiddleware(app, resolve_user=never, **CREDENTIALS)
    environ = _environ("/other")
    result = middleware(environ, lambda status, headers, exc_info=None: lambda data: None)
    assert result is body
    assert seen == [environ]
    assert seen[0] is environ


def test_wsgi_token_path_under_validator_and_closed() -> None:
    middleware = validator(
        RolloutTokenWSGIMiddleware(
            validator(ClosingApp()), resolve_user=lambda e: "u", **CREDENTIALS
        )
    )
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    result = middleware(_environ(), start_response)
    body = b"".join(result)
    result.close()  # type: ignore[attr-defined]
    assert statuses == ["200 OK"]
    import json

    verify_token(json.loads(body)["token"])


class ClosingApp:
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ClosingBody()


def test_wsgi_body_is_read_up_to_content_length_only() -> None:
    middleware = RolloutTokenWSGIMiddleware(
        ClosingApp(), resolve_user=lambda e: "u", methods=("POST",), **CREDENTIALS
    )
    stream = io.BytesIO(b"x" * 100 + b"NEXT REQUEST")
    environ = _environ(method="POST", CONTENT_LENGTH="100")
    environ["wsgi.input"] = stream
    middleware(environ, lambda *a: lambda d: None)
    assert stream.tell() == 100
    big = _environ(method="POST", CONTENT_LENGTH=str(10**9))
    big["wsgi.input"] = io.BytesIO(b"")
    statuses: list[str] = []
    middleware(big, lambda status, headers, exc_info=None: statuses.append(status))
    assert statuses == ["413 Request Entity Too Large"] or statuses == ["413 Content Too Large"]
    bogus = _environ(method="POST", CONTENT_LENGTH="abc")
    bogus["wsgi.input"] = io.BytesIO(b"")
    middleware(bogus, lambda status, headers, exc_info=None: statuses.append(status))
    assert statuses[-1] == "200 OK"


def test_wsgi_endpoint_answers_any_path() -> None:
    endpoint = RolloutTokenWSGIEndpoint(resolve_user=lambda e: None, **CREDENTIALS)
    statuses: list[str] = []
    endpoint(_environ("/whatever"), lambda status, headers, exc_info=None: statuses.append(status))
    assert statuses == ["401 Unauthorized"]
    assert repr(endpoint) == "RolloutTokenWSGIEndpoint()"


def test_wsgi_async_resolver_runs() -> None:
    async def resolver(environ: WSGIEnvironment) -> str:
        await asyncio.sleep(0)
        return "async-user"

    middleware = RolloutTokenWSGIMiddleware(ClosingApp(), resolve_user=resolver, **CREDENTIALS)
    result = middleware(_environ(), lambda *a: lambda d: None)
    import json

    assert verify_token(json.loads(b"".join(result))["token"])["sub"] == "async-user"


def test_reprs_hold_no_secret() -> None:
    for obj in (
        RolloutTokenMiddleware(Recorder(), resolve_user=never, **CREDENTIALS),
        RolloutTokenWSGIMiddleware(ClosingApp(), resolve_user=never, **CREDENTIALS),
    ):
        assert SECRET not in repr(obj)
        assert "/rollout-token" in repr(obj)


async def _coro(x: Any) -> Any:
    return x


class _AsyncCall:
    async def __call__(self, x: Any) -> Any:
        return x


class _SyncCall:
    def __call__(self, x: Any) -> Any:
        return x


def test_is_async_callable() -> None:
    import functools

    assert is_async_callable(_coro)
    assert is_async_callable(functools.partial(functools.partial(_coro)))
    assert is_async_callable(_AsyncCall())
    assert not is_async_callable(_SyncCall())
    assert not is_async_callable(_AsyncCall)  # the class: calling it makes an instance
    assert not is_async_callable(lambda x: x)
    assert not is_async_callable(functools.partial(len))
