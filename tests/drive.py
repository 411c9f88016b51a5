"""Drive both shells without a server: hand-built ASGI scopes and WSGI environs, recorded answers.

Used by the security, fuzz and fault suites. Every WSGI call runs under
``wsgiref.validate.validator`` (around the middleware and around the app it wraps) and closes the
returned iterable. Every ASGI answer is checked for its shape as it is recorded: exactly one
``http.response.start``, then body messages, the last without ``more_body``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import WSGIWarning, validator

try:
    import httpx2
except ModuleNotFoundError:  # Python 3.10: httpx2 needs 3.11+, Starlette falls back to httpx
    import httpx as httpx2
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from rollout_middleware import RolloutTokenMiddleware, RolloutTokenWSGIMiddleware

from .support import CLIENT_ID, SECRET

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SHELLS = ("asgi", "wsgi")
TOKEN_PATH = "/rollout-token"
APP_BODY = b"from the app"


@dataclass
class Recorded:
    """One complete answer: status, headers (lower-case names, latin-1 text) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        assert len(values) <= 1, f"{name} sent {len(values)} times"
        return values[0] if values else None

    @property
    def text(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.headers) + "\n" + self.body.decode("latin-1")


# --- ASGI ---------------------------------------------------------------------------------


def asgi_scope(
    method: str = "GET",
    path: str = TOKEN_PATH,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    root_path: str = "",
    raw_path: bytes | None = None,
    query_string: bytes = b"",
) -> dict[str, Any]:
    """An HTTP scope as a server would build it; ``path`` includes ``root_path``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape") if raw_path is None else raw_path,
        "root_path": root_path,
        "query_string": query_string,
        "headers": list(headers),
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }


class Receiver:
    """An ASGI ``receive`` that hands out body chunks, then (optionally) a disconnect.

    It counts its calls, so a test can tell how much of a body the middleware read.
    """

    def __init__(self, chunks: Iterable[bytes] = (), *, disconnect_after: int | None = None):
        self.chunks = list(chunks)
        self.disconnect_after = disconnect_after
        self.calls = 0
        self.bytes_read = 0

    async def __call__(self) -> Message:
        self.calls += 1
        if self.disconnect_after is not None and self.calls > self.disconnect_after:
            return {"type": "http.disconnect"}
        index = self.calls - 1
        if index >= len(self.chunks):
            if self.disconnect_after is None and index > len(self.chunks):
                raise AssertionError("receive() called after the whole body was read")
            return {"type": "http.request", "body": b"", "more_body": False}
        body = self.chunks[index]
        self.bytes_read += len(body)
        return {"type": "http.request", "body": body, "more_body": index < len(self.chunks) - 1}


class Sender:
    """An ASGI ``send`` that checks the shape of the answer as it records it."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.complete = False

    async def __call__(self, message: Message) -> None:
        assert not self.complete, f"message after the end of the answer: {message}"
        if not self.messages:
            assert message["type"] == "http.response.start", message
            assert isinstance(message["status"], int)
            for name, value in message.get("headers", []):
                assert isinstance(name, bytes)
                assert isinstance(value, bytes)
                assert name == name.lower(), name
        else:
            assert message["type"] == "http.response.body", message
            assert isinstance(message.get("body", b""), bytes)
        self.messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True

    def answer(self) -> Recorded | None:
        """The recorded answer, or None if nothing was sent (a disconnected client)."""
        if not self.messages:
            return None
        assert self.complete, "the answer was never completed"
        start = self.messages[0]
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]
        body = b"".join(m.get("body", b"") for m in self.messages[1:])
        return Recorded(start["status"], headers, body)


@dataclass
class PassThroughASGI:
    """The wrapped ASGI app: records what reached it and answers with what it read."""

    seen: list[tuple[Scope, Receive, Send]] = field(default_factory=list)
    run_lifespan: bool = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append((scope, receive, send))
        if scope["type"] == "lifespan" and self.run_lifespan:
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        answer = APP_BODY + b" read %d" % len(body)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def run(coro: Any) -> Any:
    """Run ``coro`` on a fresh event loop (asyncio.run, without closing the default executor)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


# --- WSGI ---------------------------------------------------------------------------------


class CountingInput(io.BytesIO):
    """A ``wsgi.input`` that records how many bytes were read from it."""

    def __init__(self, data: bytes = b"") -> None:
        super().__init__(data)
        self.bytes_read = 0
        self.largest_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        self.largest_read = max(self.largest_read, len(chunk))
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


def wsgi_environ(
    method: str = "GET",
    path_info: str = TOKEN_PATH,
    *,
    script_name: str = "",
    headers: Iterable[tuple[str, str]] = (),
    query_string: str = "",
    body: bytes = b"",
    content_length: str | None = None,
) -> dict[str, Any]:
    """An environ as a PEP 3333 server builds it: header values and paths are latin-1 text."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": query_string,
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": CountingInput(body),
    }
    if content_length is None and body:
        content_length = str(len(body))
    if content_length is not None:
        environ["CONTENT_LENGTH"] = content_length
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    setup_testing_defaults(environ)
    return environ


@dataclass
class PassThroughWSGI:
    """The wrapped WSGI app: records the environ it got and answers with what it read."""

    seen: list[WSGIEnvironment] = field(default_factory=list)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.seen.append(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        answer = APP_BODY + b" read %d" % len(body)
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))]
        )
        return [answer]


@contextlib.contextmanager
def unknown_methods_allowed() -> Iterator[None]:
    """wsgiref's validator warns on methods outside its list; a fuzzed method is not an error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unknown REQUEST_METHOD", WSGIWarning)
        yield


def call_wsgi(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> Recorded:
    """Call ``app`` under the validator like a server: one start_response, all of the body."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        assert not started, "start_response called twice"
        started.append((status, headers))
        return lambda data: None

    result = validator(app)(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    assert len(started) == 1
    status, headers = started[0]
    return Recorded(int(status.split()[0]), [(k.lower(), v) for k, v in headers], body)


# --- Both shells through an HTTP client -----------------------------------------------------


def request_header(shell: str, request: Any, name: str) -> str | None:
    """Header ``name`` of an ASGI scope or a WSGI environ, as text."""
    if shell == "asgi":
        for key, value in request["headers"]:
            if key == name.encode():
                return str(value.decode("latin-1"))
        return None
    value = request.get("HTTP_" + name.upper().replace("-", "_"))
    return None if value is None else str(value)


def header_resolver(shell: str, name: str = "x-user", *, is_async: bool = False) -> Any:
    """A resolver that trusts header ``name`` (a test stand-in for a session)."""
    if is_async:

        async def resolve_async(request: Any) -> str | None:
            await asyncio.sleep(0)
            return request_header(shell, request, name)

        return resolve_async

    def resolve(request: Any) -> str | None:
        return request_header(shell, request, name)

    return resolve


def middleware(shell: str, resolve: Any, app: Any = None, **options: Any) -> Any:
    """The middleware of ``shell`` around ``app`` (a recording pass-through app by default)."""
    options.setdefault("client_id", CLIENT_ID)
    options.setdefault("client_secret", SECRET)
    if shell == "asgi":
        return RolloutTokenMiddleware(app or PassThroughASGI(), resolve_user=resolve, **options)
    return RolloutTokenWSGIMiddleware(
        validator(app or PassThroughWSGI()), resolve_user=resolve, **options
    )


def client(shell: str, resolve: Any, **options: Any) -> httpx2.Client:
    """An HTTP client for the middleware of ``shell``: Starlette's TestClient, or httpx's
    WSGITransport around the validated WSGI middleware."""
    app = middleware(shell, resolve, **options)
    if shell == "asgi":
        return TestClient(app, base_url="http://testserver")
    return httpx2.Client(
        transport=httpx2.WSGITransport(app=validator(app)), base_url="http://testserver"
    )


def formatted_records(records: Iterable[logging.LogRecord]) -> str:
    """Every record as a handler would write it, tracebacks included."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


class RecordList(logging.Handler):
    """A handler that keeps every record (for code that cannot use pytest's caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def captured_logs() -> Iterator[RecordList]:
    """Capture every record of the ``rollout_middleware`` logger, at every level."""
    logger = logging.getLogger("rollout_middleware")
    handler = RecordList()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
